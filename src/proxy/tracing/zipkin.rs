//! Zipkin v2 JSON (`POST /api/v2/spans`): the span model Envoy's Zipkin tracer reports.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    Client,
    Server,
}

/// One finished span. Ids are lower-case hex (16 digits, trace ids 16 or 32).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub trace_id: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub name: String,
    pub kind: Kind,
    /// Start, in microseconds since the epoch.
    pub timestamp: u64,
    /// Microseconds.
    pub duration: u64,
    pub local_endpoint: Endpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_endpoint: Option<Endpoint>,
    pub tags: BTreeMap<String, String>,
    /// A SERVER span that kept its caller's span id (`shared_span_context`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Endpoint {
    pub fn at(service_name: Option<String>, addr: SocketAddr) -> Endpoint {
        let (ipv4, ipv6) = match addr {
            SocketAddr::V4(a) => (Some(a.ip().to_string()), None),
            SocketAddr::V6(a) => (None, Some(a.ip().to_string())),
        };
        Endpoint {
            service_name: service_name.filter(|s| !s.is_empty()),
            ipv4,
            ipv6,
            port: Some(addr.port()).filter(|p| *p != 0),
        }
    }
}

/// The body of one report: a JSON array of spans.
pub fn encode(spans: &[Span]) -> Vec<u8> {
    serde_json::to_vec(spans).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn span_json_is_zipkin_v2() {
        let span = Span {
            trace_id: "463ac35c9f6413ad48485a3953bb6124".into(),
            id: "a2fb4a1d1a96d312".into(),
            parent_id: Some("0020000000000001".into()),
            name: "catalog.istioinaction.svc.cluster.local:80/*".into(),
            kind: Kind::Server,
            timestamp: 1_700_000_000_000_001,
            duration: 1234,
            local_endpoint: Endpoint::at(
                Some("catalog.istioinaction".into()),
                "127.10.0.5:3000".parse().unwrap(),
            ),
            remote_endpoint: Some(Endpoint::at(None, "127.10.0.4:40000".parse().unwrap())),
            tags: [("http.status_code".to_owned(), "200".to_owned())].into(),
            shared: false,
        };
        let v: serde_json::Value = serde_json::from_slice(&encode(&[span])).unwrap();
        assert_eq!(
            v,
            json!([{
                "traceId": "463ac35c9f6413ad48485a3953bb6124",
                "id": "a2fb4a1d1a96d312",
                "parentId": "0020000000000001",
                "name": "catalog.istioinaction.svc.cluster.local:80/*",
                "kind": "SERVER",
                "timestamp": 1_700_000_000_000_001u64,
                "duration": 1234,
                "localEndpoint": {"serviceName": "catalog.istioinaction", "ipv4": "127.10.0.5", "port": 3000},
                "remoteEndpoint": {"ipv4": "127.10.0.4", "port": 40000},
                "tags": {"http.status_code": "200"}
            }])
        );
    }
}
