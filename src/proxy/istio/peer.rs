//! A workload's identity as Istio's telemetry sees it (Istio's `WorkloadMetadataObject`): from
//! the proxy's own node metadata, from a peer's `x-envoy-peer-metadata` header, or from the
//! `istio.workload` metadata istiod puts on endpoints.

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};

use super::pbstruct;

/// The metadata-exchange headers (Istio's names).
pub const PEER_METADATA: &str = "x-envoy-peer-metadata";
pub const PEER_METADATA_ID: &str = "x-envoy-peer-metadata-id";

const CANONICAL_NAME: &str = "service.istio.io/canonical-name";
const CANONICAL_REVISION: &str = "service.istio.io/canonical-revision";

/// Who a peer (or this proxy) is. Empty strings mean "not known".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// The node id (`sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local`), sent as
    /// `x-envoy-peer-metadata-id`.
    pub id: String,
    /// Pod name.
    pub name: String,
    pub namespace: String,
    pub workload: String,
    pub cluster: String,
    pub canonical_name: String,
    pub canonical_revision: String,
    pub app: String,
    pub version: String,
    pub service_account: String,
    pub mesh_id: String,
}

fn text(m: &Map<String, Value>, key: &str) -> String {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl PeerInfo {
    /// From a node's metadata (`NAME`, `NAMESPACE`, `LABELS`, `WORKLOAD_NAME`, `CLUSTER_ID`, …),
    /// the bootstrap's or a peer's exchanged copy.
    pub fn from_metadata(id: &str, m: &Map<String, Value>) -> PeerInfo {
        let empty = Map::new();
        let labels = m.get("LABELS").and_then(Value::as_object).unwrap_or(&empty);
        let label = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| labels.get(*k).and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned()
        };
        PeerInfo {
            id: id.to_owned(),
            name: text(m, "NAME"),
            namespace: text(m, "NAMESPACE"),
            workload: text(m, "WORKLOAD_NAME"),
            cluster: text(m, "CLUSTER_ID"),
            canonical_name: label(&[CANONICAL_NAME]),
            canonical_revision: label(&[CANONICAL_REVISION]),
            app: label(&["app", "app.kubernetes.io/name"]),
            version: label(&["version", "app.kubernetes.io/version"]),
            service_account: text(m, "SERVICE_ACCOUNT"),
            mesh_id: text(m, "MESH_ID"),
        }
    }

    /// istiod's endpoint metadata `istio.workload`: `name;namespace;canonical;revision;cluster`.
    pub fn from_endpoint_metadata(s: &str) -> Option<PeerInfo> {
        let mut parts = s.split(';');
        let mut next = || parts.next().unwrap_or_default().to_owned();
        let p = PeerInfo {
            workload: next(),
            namespace: next(),
            canonical_name: next(),
            canonical_revision: next(),
            cluster: next(),
            ..PeerInfo::default()
        };
        (!p.workload.is_empty()).then_some(p)
    }

    /// The node metadata this proxy tells its peers: the subset telemetry needs (Istio's
    /// exchange keys), labels reduced to the four that name the workload.
    fn exchanged(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        for (k, v) in [
            (CANONICAL_NAME, &self.canonical_name),
            (CANONICAL_REVISION, &self.canonical_revision),
            ("app", &self.app),
            ("version", &self.version),
        ] {
            if !v.is_empty() {
                labels.insert(k.to_owned(), json!(v));
            }
        }
        let mut m = Map::new();
        for (k, v) in [
            ("NAME", &self.name),
            ("NAMESPACE", &self.namespace),
            ("WORKLOAD_NAME", &self.workload),
            ("CLUSTER_ID", &self.cluster),
            ("SERVICE_ACCOUNT", &self.service_account),
            ("MESH_ID", &self.mesh_id),
        ] {
            if !v.is_empty() {
                m.insert(k.to_owned(), json!(v));
            }
        }
        m.insert("LABELS".to_owned(), Value::Object(labels));
        m
    }

    /// The two header values: base64 of the protobuf `Struct`, and the node id.
    pub fn header_values(&self) -> Option<(HeaderValue, HeaderValue)> {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(pbstruct::encode(&self.exchanged()));
        Some((
            HeaderValue::try_from(encoded).ok()?,
            HeaderValue::try_from(self.id.as_str()).ok()?,
        ))
    }

    /// Sets the exchange headers (replacing any a client sent).
    pub fn write_headers(headers: &mut HeaderMap, values: &(HeaderValue, HeaderValue)) {
        headers.insert(PEER_METADATA, values.0.clone());
        headers.insert(PEER_METADATA_ID, values.1.clone());
    }

    /// Takes the exchange headers out of `headers` (they never reach the app) and decodes
    /// them. `None` when absent or malformed: the peer stays unknown.
    pub fn take_headers(headers: &mut HeaderMap) -> Option<PeerInfo> {
        let metadata = headers.remove(PEER_METADATA);
        let id = headers.remove(PEER_METADATA_ID);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(metadata?.as_bytes())
            .ok()?;
        let m = pbstruct::decode(&bytes).ok()?;
        let id = id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Some(PeerInfo::from_metadata(id, &m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webapp() -> PeerInfo {
        let m = json!({
            "NAME": "webapp-7685bcb84-h5knf",
            "NAMESPACE": "istioinaction",
            "WORKLOAD_NAME": "webapp",
            "CLUSTER_ID": "Kubernetes",
            "SERVICE_ACCOUNT": "webapp",
            "MESH_ID": "cluster.local",
            "LABELS": {"app": "webapp", "pod-template-hash": "7685bcb84",
                       "service.istio.io/canonical-name": "webapp",
                       "service.istio.io/canonical-revision": "latest"},
        });
        PeerInfo::from_metadata(
            "sidecar~127.10.0.5~webapp-7685bcb84-h5knf.istioinaction~istioinaction.svc.cluster.local",
            m.as_object().unwrap(),
        )
    }

    #[test]
    fn node_metadata_names_the_workload() {
        let p = webapp();
        assert_eq!(p.workload, "webapp");
        assert_eq!(p.canonical_name, "webapp");
        assert_eq!(p.canonical_revision, "latest");
        assert_eq!(p.app, "webapp");
        assert_eq!(p.version, "");
        assert_eq!(p.cluster, "Kubernetes");
    }

    #[test]
    fn headers_round_trip_and_are_removed() {
        let p = webapp();
        let mut h = HeaderMap::new();
        PeerInfo::write_headers(&mut h, &p.header_values().unwrap());
        assert!(h.contains_key(PEER_METADATA) && h.contains_key(PEER_METADATA_ID));
        let got = PeerInfo::take_headers(&mut h).unwrap();
        assert!(h.is_empty());
        assert_eq!(got, p);
    }

    #[test]
    fn malformed_headers_leave_the_peer_unknown() {
        let mut h = HeaderMap::new();
        h.insert(PEER_METADATA, HeaderValue::from_static("not base64!"));
        assert_eq!(PeerInfo::take_headers(&mut h), None);
        assert!(h.is_empty());
        h.insert(PEER_METADATA, HeaderValue::from_static("CgUKAQ=="));
        assert_eq!(PeerInfo::take_headers(&mut h), None);
    }

    #[test]
    fn endpoint_metadata() {
        let p = PeerInfo::from_endpoint_metadata("catalog;istioinaction;catalog;v1;Kubernetes")
            .unwrap();
        assert_eq!(
            (
                p.workload.as_str(),
                p.namespace.as_str(),
                p.canonical_revision.as_str()
            ),
            ("catalog", "istioinaction", "v1")
        );
        assert_eq!(PeerInfo::from_endpoint_metadata(""), None);
    }
}
