//! What a container sees of its `volumeMounts`: Secret and ConfigMap volumes become files
//! (`<mountPath>/<key>`, or one file with `subPath`; `items` pick and rename keys), read by the
//! built-in apps (fake-service's TLS certificate, say). A missing, non-optional source keeps
//! the pod in `ContainerCreating`, as the kubelet's failed mount does.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::k8s::{Container, Pod, Volume};
use crate::api::{Resource, ResourceKey};

use super::store::Store;

/// Why a pod's volumes cannot be mounted yet (the kubelet's `FailedMount` event).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume \"{volume}\" : {kind} \"{name}\" not found")]
pub struct MissingSource {
    pub volume: String,
    pub kind: &'static str,
    pub name: String,
}

/// Path → bytes for one container.
pub type MountedFiles = BTreeMap<String, Vec<u8>>;

fn key(kind: &str, ns: &str, name: &str) -> ResourceKey {
    ResourceKey {
        group: String::new(),
        kind: kind.to_owned(),
        namespace: Some(ns.to_owned()),
        name: name.to_owned(),
    }
}

/// `items: [{key, path}]` from a volume source's extra fields.
fn items(rest: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    rest.get("items")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| Some((i["key"].as_str()?.to_owned(), i["path"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The key → bytes a volume provides, `Ok(None)` for kinds mesh does not mount (emptyDir…).
fn volume_data(store: &Store, ns: &str, v: &Volume) -> Result<Option<BTreeMap<String, Vec<u8>>>, MissingSource> {
    let (data, optional, rest) = if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let data = match store.get(&key("Secret", ns, &name)) {
            Some(Resource::Secret(secret)) => {
                let mut out: BTreeMap<String, Vec<u8>> = secret
                    .data
                    .iter()
                    .filter_map(|(k, b64)| crate::api::base64::decode(b64).ok().map(|b| (k.clone(), b)))
                    .collect();
                out.extend(secret.string_data.iter().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())));
                Some(out)
            }
            _ => None,
        };
        let missing = MissingSource { volume: v.name.clone(), kind: "secret", name };
        (data.ok_or(missing), s.optional.unwrap_or(false), &s.rest)
    } else if let Some(c) = &v.config_map {
        let name = c.name.clone().unwrap_or_default();
        let data = match store.get(&key("ConfigMap", ns, &name)) {
            Some(Resource::ConfigMap(cm)) => {
                let mut out: BTreeMap<String, Vec<u8>> = cm.data.iter().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())).collect();
                out.extend(
                    cm.binary_data
                        .iter()
                        .filter_map(|(k, b64)| crate::api::base64::decode(b64).ok().map(|b| (k.clone(), b))),
                );
                Some(out)
            }
            _ => None,
        };
        let missing = MissingSource { volume: v.name.clone(), kind: "configmap", name };
        (data.ok_or(missing), c.optional.unwrap_or(false), &c.rest)
    } else {
        return Ok(None);
    };
    let data = match data {
        Ok(d) => d,
        Err(_) if optional => BTreeMap::new(),
        Err(missing) => return Err(missing),
    };
    let picked = items(rest);
    if picked.is_empty() {
        return Ok(Some(data));
    }
    Ok(Some(
        picked
            .into_iter()
            .filter_map(|(k, path)| data.get(&k).map(|b| (path, b.clone())))
            .collect(),
    ))
}

/// The files one container sees.
pub fn container_files(store: &Store, pod: &Pod, container: &Container) -> Result<MountedFiles, MissingSource> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut files = MountedFiles::new();
    for m in &container.volume_mounts {
        let Some(volume) = pod.spec.volumes.iter().find(|v| v.name == m.name) else {
            continue;
        };
        let Some(data) = volume_data(store, ns, volume)? else {
            continue;
        };
        let base = m.mount_path.trim_end_matches('/');
        match &m.sub_path {
            Some(sub) => {
                if let Some(bytes) = data.get(sub) {
                    files.insert(base.to_owned(), bytes.clone());
                }
            }
            None => {
                for (k, bytes) in data {
                    files.insert(format!("{base}/{k}"), bytes);
                }
            }
        }
    }
    Ok(files)
}

/// Every container's files, or the first volume that cannot be mounted.
pub fn pod_files(store: &Store, pod: &Pod) -> Result<BTreeMap<String, MountedFiles>, MissingSource> {
    pod.spec
        .containers
        .iter()
        .map(|c| Ok((c.name.clone(), container_files(store, pod, c)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(docs: &str) -> Store {
        let mut store = Store::default();
        for d in crate::api::decode("t.yaml", docs).unwrap() {
            store.put(d.resource, false);
        }
        store
    }

    fn pod(spec: &str) -> Pod {
        match crate::api::decode("p.yaml", spec).unwrap().remove(0).resource {
            Resource::Pod(p) => p,
            _ => unreachable!(),
        }
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: c\n    image: x\n    volumeMounts:\n    - {name: certs, mountPath: /etc/certs}\n    - {name: cfg, mountPath: /etc/app/conf.yaml, subPath: conf.yaml}\n  volumes:\n  - name: certs\n    secret: {secretName: tls}\n  - name: cfg\n    configMap: {name: app}\n";

    #[test]
    fn secrets_and_config_maps_become_files() {
        let store = store_with("apiVersion: v1\nkind: Secret\nmetadata: {name: tls, namespace: ns}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: Y2VydA==\n  tls.key: a2V5\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: ns}\ndata:\n  conf.yaml: 'a: 1'\n  other: x\n");
        let files = pod_files(&store, &pod(POD)).unwrap();
        let c = &files["c"];
        assert_eq!(c["/etc/certs/tls.crt"], b"cert");
        assert_eq!(c["/etc/certs/tls.key"], b"key");
        assert_eq!(c["/etc/app/conf.yaml"], b"a: 1");
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_missing_secret_is_a_failed_mount() {
        let store = store_with("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: ns}\ndata: {conf.yaml: x}\n");
        let err = pod_files(&store, &pod(POD)).unwrap_err();
        assert_eq!(err.to_string(), "MountVolume.SetUp failed for volume \"certs\" : secret \"tls\" not found");
    }
}
