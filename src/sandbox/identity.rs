//! Workload identity: the sandbox's CA (istiod's role) and what each pod's istio-agent does
//! with it — issue the proxy a SPIFFE certificate, deliver it over SDS as the secrets `default`
//! (certificate chain + key) and `ROOTCA` (trust bundle), and rotate it before it expires.
//!
//! The CA is the user's plug-in CA when `istio-system/cacerts` exists (Istio's `ca-cert.pem`,
//! `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`), else a self-signed root kept in the state
//! directory (`ca/`, like istiod's `istio-ca-secret`) so a restarted sandbox keeps its root.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;

use crate::api::Resource;
use crate::api::ResourceKey;
use crate::ca::{self, KeyType, MeshCa, WorkloadId};
use crate::xds::core::DataSource;
use crate::xds::tls::{CertificateValidationContext, Secret, TlsCertificate};

use super::state_dir::StateDir;
use super::store::Store;

/// istio-agent's rotation point: a certificate is renewed once half its lifetime is gone
/// (`SECRET_GRACE_PERIOD_RATIO` 0.5).
pub const GRACE_RATIO: f64 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the mesh CA: {0}")]
    Ca(#[from] ca::Error),
    #[error("the mesh CA in {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("istio-system/cacerts: {0}")]
    PluginCa(ca::Error),
}

/// The CA and the workload certificate lifetime.
#[derive(Debug)]
pub struct Identity {
    ca: RwLock<Arc<MeshCa>>,
    /// Where the CA came from (`self-signed` or `istio-system/cacerts`), for `mesh up`.
    source: RwLock<String>,
    pub ttl: Duration,
}

/// The four `cacerts` files of a Secret, if present.
fn plugin_files(store: &Store) -> Option<[String; 4]> {
    let key = ResourceKey {
        group: String::new(),
        kind: "Secret".into(),
        namespace: Some("istio-system".into()),
        name: "cacerts".into(),
    };
    let Some(Resource::Secret(s)) = store.get(&key) else {
        return None;
    };
    let get = |k: &str| {
        s.string_data
            .get(k)
            .cloned()
            .or_else(|| {
                s.data
                    .get(k)
                    .and_then(|b| crate::api::base64::decode(b).ok())
                    .and_then(|b| String::from_utf8(b).ok())
            })
            .unwrap_or_default()
    };
    Some([
        get("ca-cert.pem"),
        get("ca-key.pem"),
        get("cert-chain.pem"),
        get("root-cert.pem"),
    ])
}

fn self_signed(state: &StateDir) -> Result<MeshCa, IdentityError> {
    let dir = state.path().join("ca");
    let io = |source| IdentityError::Io {
        path: dir.display().to_string(),
        source,
    };
    let (cert, key) = (dir.join("root-cert.pem"), dir.join("ca-key.pem"));
    if cert.exists() && key.exists() {
        let cert_pem = std::fs::read_to_string(&cert).map_err(io)?;
        let key_pem = std::fs::read_to_string(&key).map_err(io)?;
        return Ok(MeshCa::from_pem(&cert_pem, &key_pem, "", &cert_pem)?);
    }
    let ca = MeshCa::generate(ca::DEFAULT_TRUST_DOMAIN, KeyType::EcP256)?;
    let pem = ca.to_pem();
    std::fs::create_dir_all(&dir).map_err(io)?;
    let ca_dir = StateDir(dir.clone());
    ca_dir
        .write_atomic("root-cert.pem", pem.cert_pem.as_bytes(), 0o644)
        .map_err(io)?;
    ca_dir
        .write_atomic("ca-key.pem", pem.key_pem.as_bytes(), 0o600)
        .map_err(io)?;
    Ok(ca)
}

fn load(state: &StateDir, store: &Store) -> Result<(MeshCa, String), IdentityError> {
    match plugin_files(store) {
        Some([cert, key, chain, root]) => Ok((
            MeshCa::from_pem(&cert, &key, &chain, &root).map_err(IdentityError::PluginCa)?,
            "istio-system/cacerts (plug-in CA)".to_owned(),
        )),
        None => Ok((self_signed(state)?, "self-signed root".to_owned())),
    }
}

fn inline(pem: &str) -> DataSource {
    DataSource {
        inline_bytes: Some(base64::engine::general_purpose::STANDARD.encode(pem.as_bytes())),
        ..Default::default()
    }
}

impl Identity {
    pub fn new(state: &StateDir, store: &Store, ttl: Duration) -> Result<Identity, IdentityError> {
        let (ca, source) = load(state, store)?;
        Ok(Identity {
            ca: RwLock::new(Arc::new(ca)),
            source: RwLock::new(source),
            ttl,
        })
    }

    /// Picks up a `cacerts` Secret applied (or changed) since start, as an istiod restart
    /// would. Returns whether the CA changed.
    pub fn refresh(&self, state: &StateDir, store: &Store) -> Result<bool, IdentityError> {
        let (ca, source) = load(state, store)?;
        let changed = self
            .ca
            .read()
            .map(|c| c.to_pem() != ca.to_pem())
            .unwrap_or(true);
        if changed {
            if let Ok(mut c) = self.ca.write() {
                *c = Arc::new(ca);
            }
            if let Ok(mut s) = self.source.write() {
                *s = source;
            }
        }
        Ok(changed)
    }

    pub fn source(&self) -> String {
        self.source.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn root_pem(&self) -> String {
        self.ca
            .read()
            .map(|c| c.root_pem().to_owned())
            .unwrap_or_default()
    }

    /// A fresh certificate for `id` as the agent's two SDS secrets, and when to renew it.
    pub fn secrets_for(&self, id: &WorkloadId) -> Result<(Vec<Secret>, Duration), IdentityError> {
        let ca = self.ca.read().map(|c| c.clone()).map_err(|_| {
            IdentityError::Ca(ca::Error::Validity("the CA lock is poisoned".into()))
        })?;
        let cert = ca.issue_workload(id, self.ttl)?;
        let default = Secret {
            name: "default".into(),
            tls_certificate: Some(TlsCertificate {
                certificate_chain: Some(inline(&cert.cert_chain_pem)),
                private_key: Some(inline(&cert.key_pem)),
            }),
            ..Default::default()
        };
        let root = Secret {
            name: "ROOTCA".into(),
            validation_context: Some(CertificateValidationContext {
                trusted_ca: Some(inline(&cert.root_pem)),
                ..Default::default()
            }),
            ..Default::default()
        };
        let renew_in = self.ttl.mul_f64(GRACE_RATIO);
        Ok((vec![default, root], renew_in))
    }
}
