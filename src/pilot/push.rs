//! Pushing config to proxies and keeping score: each connected proxy gets, per xDS type, the
//! complete set of its resources whenever that set changes (CDS, EDS, LDS, RDS, in that order),
//! with a fresh version and nonce; its ACKs and NACKs become proxy-status' SYNCED / STALE /
//! NOT SENT and the error a NACK carried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::xds::snapshot::{Ack, DiscoveryResponse, Resources};
use crate::xds::type_url;

use super::bootstrap::ProxyIdentity;

/// The xDS types in push order.
pub const TYPES: [&str; 4] = [
    type_url::CLUSTER,
    type_url::ENDPOINT,
    type_url::LISTENER,
    type_url::ROUTE,
];

/// Bookkeeping for one type on one connection.
#[derive(Debug, Clone, Default)]
pub struct TypeState {
    pub sent: Option<Sent>,
    pub acked_nonce: Option<String>,
    pub acked_version: Option<String>,
    pub nack: Option<String>,
    last: Option<Resources>,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub version: String,
    pub nonce: String,
    pub at: SystemTime,
}

/// proxy-status' view of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    NotSent,
    Synced { since: SystemTime },
    Stale { since: SystemTime },
    Error { since: SystemTime, reason: String },
}

/// One proxy connected to the control plane.
#[derive(Debug)]
pub struct Connection {
    pub identity: ProxyIdentity,
    pub connected_at: SystemTime,
    tx: mpsc::UnboundedSender<DiscoveryResponse>,
    state: Mutex<HashMap<&'static str, TypeState>>,
}

impl Connection {
    /// The per-type status, in CDS, LDS, EDS, RDS order.
    pub fn status(&self, type_url: &str) -> SyncStatus {
        let Ok(state) = self.state.lock() else {
            return SyncStatus::NotSent;
        };
        let Some(s) = state.get(type_url) else {
            return SyncStatus::NotSent;
        };
        let Some(sent) = &s.sent else {
            return SyncStatus::NotSent;
        };
        if let Some(reason) = &s.nack {
            return SyncStatus::Error {
                since: sent.at,
                reason: reason.clone(),
            };
        }
        if s.acked_nonce.as_deref() == Some(sent.nonce.as_str()) {
            SyncStatus::Synced { since: sent.at }
        } else {
            SyncStatus::Stale { since: sent.at }
        }
    }

    pub fn last_sent_version(&self, type_url: &str) -> Option<String> {
        self.state
            .lock()
            .ok()?
            .get(type_url)?
            .sent
            .as_ref()
            .map(|s| s.version.clone())
    }

    /// Sends `resources` unless they equal what was last sent. Returns whether it sent.
    pub fn push(&self, version: &str, resources: Resources) -> bool {
        let type_url = resources.type_url();
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let entry = state.entry(type_url).or_default();
        if entry.last.as_ref() == Some(&resources) {
            return false;
        }
        let nonce = format!("{:016x}", rand::random::<u64>());
        entry.sent = Some(Sent {
            version: version.to_owned(),
            nonce: nonce.clone(),
            at: SystemTime::now(),
        });
        entry.nack = None;
        entry.last = Some(resources.clone());
        self.tx
            .send(DiscoveryResponse {
                version_info: version.to_owned(),
                nonce,
                resources,
            })
            .is_ok()
    }

    /// Records the proxy's answer to a push.
    pub fn ack(&self, ack: &Ack) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let entry = state.entry(ack.type_url).or_default();
        let current =
            entry.sent.as_ref().map(|s| s.nonce.as_str()) == Some(ack.response_nonce.as_str());
        if !current {
            return;
        }
        match &ack.error_detail {
            None => {
                entry.acked_nonce = Some(ack.response_nonce.clone());
                entry.acked_version = Some(ack.version_info.clone());
                entry.nack = None;
            }
            Some(reason) => entry.nack = Some(reason.clone()),
        }
    }

    /// True when every type that was sent is ACKed (what readiness waits for).
    pub fn synced(&self) -> bool {
        TYPES
            .iter()
            .all(|t| !matches!(self.status(t), SyncStatus::Stale { .. }))
            && self.state.lock().is_ok_and(|s| !s.is_empty())
    }
}

/// Every connected proxy.
#[derive(Debug, Default)]
pub struct Connections {
    by_name: Mutex<HashMap<String, Arc<Connection>>>,
    counter: std::sync::atomic::AtomicU64,
}

impl Connections {
    /// Registers a proxy; its pushes arrive on the returned receiver.
    pub fn connect(
        &self,
        identity: ProxyIdentity,
    ) -> (Arc<Connection>, mpsc::UnboundedReceiver<DiscoveryResponse>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = Arc::new(Connection {
            identity,
            connected_at: SystemTime::now(),
            tx,
            state: Mutex::new(HashMap::new()),
        });
        if let Ok(mut m) = self.by_name.lock() {
            m.insert(conn.identity.name(), conn.clone());
        }
        (conn, rx)
    }

    pub fn disconnect(&self, name: &str) {
        if let Ok(mut m) = self.by_name.lock() {
            m.remove(name);
        }
    }

    pub fn all(&self) -> Vec<Arc<Connection>> {
        let mut v: Vec<Arc<Connection>> = self
            .by_name
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|c| c.identity.name());
        v
    }

    pub fn get(&self, name: &str) -> Option<Arc<Connection>> {
        self.by_name.lock().ok()?.get(name).cloned()
    }

    /// A new push version, istiod-style: `<RFC3339 time>/<counter>`.
    pub fn next_version(&self) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let now = time::OffsetDateTime::now_utc();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z/{n}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        )
    }
}

/// Now, as `2025-04-18T14:24:16Z`.
pub fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Kubernetes' `HumanDuration` (what proxy-status' `SYNCED (5m1s)` uses).
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s}s")
    } else if s < 600 {
        let (m, r) = (s / 60, s % 60);
        if r == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{r}s")
        }
    } else if s < 3 * 3600 {
        format!("{}m", s / 60)
    } else if s < 8 * 3600 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{m}m")
        }
    } else if s < 48 * 3600 {
        format!("{}h", s / 3600)
    } else if s < 8 * 86400 {
        let (d, h) = (s / 86400, (s % 86400) / 3600);
        if h == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{h}h")
        }
    } else if s < 2 * 365 * 86400 {
        format!("{}d", s / 86400)
    } else {
        format!("{}y", s / (365 * 86400))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::names::ProxyType;

    fn identity() -> ProxyIdentity {
        ProxyIdentity {
            kind: ProxyType::Sidecar,
            pod: "p".into(),
            namespace: "ns".into(),
            ip: "127.10.0.1".parse().unwrap(),
            labels: Default::default(),
            service_account: "default".into(),
            workload: "p".into(),
            app_ip: "127.20.0.1".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn statuses_follow_pushes_and_acks() {
        let conns = Connections::default();
        let (c, mut rx) = conns.connect(identity());
        assert_eq!(c.status(type_url::ROUTE), SyncStatus::NotSent);
        assert!(c.push("v1", Resources::Clusters(vec![])));
        assert!(
            !c.push("v2", Resources::Clusters(vec![])),
            "unchanged resources are not resent"
        );
        let resp = rx.recv().await.unwrap();
        assert!(matches!(
            c.status(type_url::CLUSTER),
            SyncStatus::Stale { .. }
        ));
        c.ack(&Ack {
            type_url: type_url::CLUSTER,
            version_info: "v1".into(),
            response_nonce: resp.nonce.clone(),
            error_detail: None,
        });
        assert!(matches!(
            c.status(type_url::CLUSTER),
            SyncStatus::Synced { .. }
        ));
        assert!(c.synced());
        c.push("v3", Resources::Routes(vec![Default::default()]));
        let resp = rx.recv().await.unwrap();
        c.ack(&Ack {
            type_url: type_url::ROUTE,
            version_info: String::new(),
            response_nonce: resp.nonce,
            error_detail: Some("bad".into()),
        });
        assert!(matches!(
            c.status(type_url::ROUTE),
            SyncStatus::Error { .. }
        ));
        assert_eq!(conns.all().len(), 1);
        assert!(conns.next_version().ends_with("/1"));
    }

    #[test]
    fn human_durations() {
        for (s, want) in [
            (47, "47s"),
            (155, "2m35s"),
            (301, "5m1s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (30 * 3600, "30h"),
            (3 * 86400, "3d"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(s)), want, "{s}");
        }
    }
}
