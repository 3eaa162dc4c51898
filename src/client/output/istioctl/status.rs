//! `istioctl proxy-status` (`writer/pilot/status.go`): one row per proxy, sorted by name.
//! 1.23–1.26 print `NAME CLUSTER CDS LDS EDS RDS ECDS ISTIOD VERSION` with cells like
//! `SYNCED (5m1s)`; 1.27+ print `NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES` by default and a
//! per-type table (types in type-URL order) with `--verbose`.

use std::time::Duration;

use crate::client::output::duration::human_duration;
use crate::client::output::gosort::sort_slice;
use crate::client::output::table::Table;

/// One xDS type's sync state for a proxy. The age is the time since istiod last sent that
/// type (its `last_updated`); istioctl omits the suffix when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// The last push was acknowledged.
    Synced { age: Option<Duration> },
    /// Subscribed but nothing pushed yet.
    NotSent,
    /// The last push is not acknowledged yet.
    Stale { age: Option<Duration> },
    /// The last push was rejected (NACK).
    Error { age: Option<Duration> },
    /// Not subscribed (ECDS on most proxies), or unknown.
    Ignored,
}

impl Sync {
    /// The cell: `SYNCED (47s)`, `NOT SENT`, `STALE (3h)`, `ERROR (2m35s)`, `IGNORED`.
    pub fn cell(&self) -> String {
        let (status, age) = match self {
            Sync::Synced { age } => ("SYNCED", age),
            Sync::Stale { age } => ("STALE", age),
            Sync::Error { age } => ("ERROR", age),
            Sync::NotSent => return "NOT SENT".to_string(),
            Sync::Ignored => return "IGNORED".to_string(),
        };
        match age {
            Some(age) => format!("{status} ({})", human_duration(*age)),
            None => status.to_string(),
        }
    }

    fn subscribed(&self) -> bool {
        !matches!(self, Sync::Ignored)
    }
}

/// One proxy: its xDS node id (`<pod>.<namespace>`), cluster id (`Kubernetes`), per-type
/// states, the istiod pod serving it and the proxy's Istio version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    pub name: String,
    pub cluster: String,
    pub cds: Sync,
    pub lds: Sync,
    pub eds: Sync,
    pub rds: Sync,
    pub ecds: Sync,
    pub istiod: String,
    pub version: String,
}

impl Sync {
    /// A proxy's state for one type as the sandbox's `/v1/proxies` reports it. The seed's
    /// istioctl prints the state without an age; so do we.
    pub fn from_api(v: &serde_json::Value) -> Sync {
        match v["status"].as_str().unwrap_or("") {
            "SYNCED" => Sync::Synced { age: None },
            "STALE" => Sync::Stale { age: None },
            "ERROR" => Sync::Error { age: None },
            _ => Sync::NotSent,
        }
    }
}

/// The rows of the sandbox's `GET /v1/proxies` answer (`{proxies, istiod}`), optionally only
/// one namespace's.
pub fn status_rows(answer: &serde_json::Value, namespace: Option<&str>) -> Vec<StatusRow> {
    let istiod = answer["istiod"].as_str().unwrap_or("istiod");
    answer["proxies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| namespace.is_none_or(|ns| p["namespace"] == ns))
        .map(|p| StatusRow {
            name: p["name"].as_str().unwrap_or("").to_owned(),
            cluster: p["cluster"].as_str().unwrap_or("Kubernetes").to_owned(),
            cds: Sync::from_api(&p["cds"]),
            lds: Sync::from_api(&p["lds"]),
            eds: Sync::from_api(&p["eds"]),
            rds: Sync::from_api(&p["rds"]),
            ecds: Sync::from_api(&p["ecds"]),
            istiod: istiod.to_owned(),
            version: p["version"].as_str().unwrap_or("").to_owned(),
        })
        .collect()
}

fn sorted(rows: &[StatusRow]) -> Vec<&StatusRow> {
    let mut rows: Vec<&StatusRow> = rows.iter().collect();
    sort_slice(&mut rows, |a, b| a.name < b.name);
    rows
}

/// istioctl 1.23–1.26's table.
pub fn proxy_status(rows: &[StatusRow]) -> String {
    proxy_status_table(rows).render()
}

/// The `proxy-status` table's rows (header first).
pub fn proxy_status_table(rows: &[StatusRow]) -> Table {
    let mut table = Table::new(5);
    table.row([
        "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION",
    ]);
    for row in sorted(rows) {
        table.row([
            row.name.clone(),
            row.cluster.clone(),
            row.cds.cell(),
            row.lds.cell(),
            row.eds.cell(),
            row.rds.cell(),
            row.ecds.cell(),
            row.istiod.clone(),
            row.version.clone(),
        ]);
    }
    table
}

/// istioctl 1.27+'s default table: `SUBSCRIBED TYPES` like `5 (CDS,LDS,EDS,RDS,ECDS)` or `0`.
pub fn proxy_status_subscribed(rows: &[StatusRow]) -> String {
    let mut table = Table::new(5);
    table.row(["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"]);
    for row in sorted(rows) {
        let types: Vec<&str> = [
            ("CDS", row.cds),
            ("LDS", row.lds),
            ("EDS", row.eds),
            ("RDS", row.rds),
            ("ECDS", row.ecds),
        ]
        .iter()
        .filter(|(_, sync)| sync.subscribed())
        .map(|(name, _)| *name)
        .collect();
        let subscribed = if types.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({})", types.len(), types.join(","))
        };
        table.row([
            row.name.clone(),
            row.cluster.clone(),
            row.istiod.clone(),
            row.version.clone(),
            subscribed,
        ]);
    }
    table.render()
}

/// istioctl 1.27+'s `--verbose` table: every type, ordered by type URL.
pub fn proxy_status_verbose(rows: &[StatusRow]) -> String {
    let mut table = Table::new(5);
    table.row([
        "NAME", "CLUSTER", "CDS", "ECDS", "EDS", "LDS", "RDS", "ISTIOD", "VERSION",
    ]);
    for row in sorted(rows) {
        table.row([
            row.name.clone(),
            row.cluster.clone(),
            row.cds.cell(),
            row.ecds.cell(),
            row.eds.cell(),
            row.lds.cell(),
            row.rds.cell(),
            row.istiod.clone(),
            row.version.clone(),
        ]);
    }
    table.render()
}
