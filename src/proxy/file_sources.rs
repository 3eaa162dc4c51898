//! xDS from files (`mesh envoy` with `dynamic_resources` and `path_config_source`), as Envoy's
//! filesystem subscriptions: CDS and LDS from the bootstrap's files, EDS from each EDS
//! cluster's `eds_config`, RDS from each connection manager's `rds.config_source`. Every file
//! is a `DiscoveryResponse`; a changed file (replaced by `mv`, or edited in place) is decoded
//! and pushed through the same [`Proxy::apply`] a control-plane push uses — so a bad file is
//! rejected whole, the last good config keeps serving, and the subscription's stats
//! (`update_success`, `update_rejected`, `version`, `version_text`) and config_dump's
//! `version_info` say what happened.
//!
//! Changes are found by polling each file's (inode, length, mtime) every [`POLL`]: cheap for a
//! handful of files, and it sees every way a file changes (rename over it, in-place write,
//! a symlink swapped in a `watched_directory`) without an inotify dependency.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use crate::plog;
use crate::xds::bootstrap::Bootstrap;
use crate::xds::cluster::{Cluster, DiscoveryType};
use crate::xds::config_source::{ConfigSource, FileSource};
use crate::xds::discovery_file::{self, DiscoveryFile};
use crate::xds::endpoint::ClusterLoadAssignment;
use crate::xds::listener::{Listener, NetworkFilterConfig};
use crate::xds::route::RouteConfiguration;
use crate::xds::snapshot::{DiscoveryResponse, Resources};
use crate::xds::type_url;

use super::log::{Component, Level};
use super::stats::{Counter, Gauge, Store, TextReadout};
use super::{Proxy, Rejected};

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_millis(250);

/// A subscription's stats, as Envoy names them under its prefix.
#[derive(Debug, Clone)]
struct SubscriptionStats {
    /// `None` for EDS: the cluster counts its own attempts and successes.
    update_attempt: Option<Counter>,
    update_success: Option<Counter>,
    update_rejected: Counter,
    update_failure: Counter,
    update_time: Gauge,
    version: Gauge,
    version_text: TextReadout,
}

impl SubscriptionStats {
    fn new(store: &Store, prefix: &str) -> SubscriptionStats {
        SubscriptionStats {
            update_attempt: Some(store.counter(&format!("{prefix}update_attempt"))),
            update_success: Some(store.counter(&format!("{prefix}update_success"))),
            update_rejected: store.counter(&format!("{prefix}update_rejected")),
            update_failure: store.counter(&format!("{prefix}update_failure")),
            update_time: store.gauge(&format!("{prefix}update_time")),
            version: store.gauge(&format!("{prefix}version")),
            version_text: store.text_readout(&format!("{prefix}version_text")),
        }
    }

    /// An EDS cluster's: the cluster already counts attempts and successes.
    fn for_cluster(store: &Store, cluster: &str) -> SubscriptionStats {
        SubscriptionStats {
            update_attempt: None,
            update_success: None,
            ..SubscriptionStats::new(store, &format!("cluster.{cluster}."))
        }
    }

    fn accepted(&self, version: &str) {
        if let Some(c) = &self.update_success {
            c.inc();
        }
        self.update_time.set(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        );
        // Envoy's `version` gauge is the xxHash64 of version_info.
        self.version
            .set(xxhash_rust::xxh64::xxh64(version.as_bytes(), 0));
        self.version_text.set(version);
    }
}

/// What identifies one state of a file: a rename gives a new inode, an in-place write a new
/// length or mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    mtime_ns: i128,
    /// The watched directory's own (inode, mtime), when there is one.
    dir: Option<(u64, i128)>,
}

fn stamp(source: &FileSource) -> Option<Stamp> {
    let meta = std::fs::metadata(&source.path).ok()?;
    let mtime =
        |m: &std::fs::Metadata| i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
    let dir = source
        .watched_directory
        .as_ref()
        .and_then(|d| std::fs::metadata(d).ok())
        .map(|d| (d.ino(), mtime(&d)));
    Some(Stamp {
        inode: meta.ino(),
        len: meta.len(),
        mtime_ns: mtime(&meta),
        dir,
    })
}

/// One watched file of resources of type `T`.
#[derive(Debug)]
struct Watched<T> {
    source: FileSource,
    stamp: Option<Stamp>,
    last_good: Option<DiscoveryFile<T>>,
    stats: Vec<SubscriptionStats>,
}

impl<T: DeserializeOwned + Clone> Watched<T> {
    fn new(source: FileSource, stats: Vec<SubscriptionStats>) -> Watched<T> {
        Watched {
            source,
            stamp: None,
            last_good: None,
            stats,
        }
    }

    /// The file's new content when it changed since last looked at (`Err`: it changed and does
    /// not decode, or cannot be read).
    fn changed(&mut self, type_url: &str) -> Option<Result<DiscoveryFile<T>, String>> {
        let now = stamp(&self.source);
        if now == self.stamp && self.last_good.is_some() {
            return None;
        }
        // An empty file is one being written in place (truncated, not yet filled): wait for
        // its content rather than apply "no resources".
        if now.is_some_and(|s| s.len == 0) {
            return None;
        }
        if now.is_none() && self.stamp.is_none() && self.last_good.is_some() {
            return None;
        }
        self.stamp = now;
        for c in self.stats.iter().filter_map(|s| s.update_attempt.as_ref()) {
            c.inc();
        }
        let text = match std::fs::read_to_string(&self.source.path) {
            Ok(text) => text,
            Err(e) => {
                for s in &self.stats {
                    s.update_failure.inc();
                }
                return Some(Err(format!("cannot read {}: {e}", self.source.path)));
            }
        };
        Some(
            discovery_file::decode::<T>(&self.source.path, &text, type_url)
                .map_err(|e| e.to_string()),
        )
    }

    fn rejected(&self) {
        for s in &self.stats {
            s.update_rejected.inc();
        }
    }

    fn accepted(&mut self, file: DiscoveryFile<T>) {
        for s in &self.stats {
            s.accepted(&file.version_info);
        }
        self.last_good = Some(file);
    }
}

/// Every file a proxy reads its dynamic resources from.
pub struct FileSources {
    proxy: Arc<Proxy>,
    cds: Option<Watched<Cluster>>,
    lds: Option<Watched<Listener>>,
    /// By path: EDS files, and the clusters each feeds (for their stats).
    eds: BTreeMap<String, Watched<ClusterLoadAssignment>>,
    rds: BTreeMap<String, Watched<RouteConfiguration>>,
    /// Whether the EDS and RDS files have been gathered once (static clusters and listeners
    /// may name some before any CDS/LDS file is read).
    gathered: bool,
}

/// A config source that must be a file.
fn file_of(source: &ConfigSource, field: &str) -> Result<FileSource, Rejected> {
    source.file().map_err(|reason| Rejected::new(field, reason))
}

/// Envoy refuses to start when a filesystem subscription's file does not exist.
fn must_exist(source: &FileSource, field: &str) -> Result<(), Rejected> {
    if std::path::Path::new(&source.path).exists() {
        Ok(())
    } else {
        Err(Rejected::new(
            field,
            format!(
                "paths must refer to an existing path in the system: '{}' does not exist",
                source.path
            ),
        ))
    }
}

/// The CDS and LDS files of a bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapFiles {
    pub cds: Option<FileSource>,
    pub lds: Option<FileSource>,
}

/// The CDS and LDS files a bootstrap names (`None` without `dynamic_resources`), checked as
/// Envoy checks them at start: files that exist, no gRPC sources.
pub fn check(bootstrap: &Bootstrap) -> Result<Option<BootstrapFiles>, Vec<Rejected>> {
    let Some(dynamic) = &bootstrap.dynamic_resources else {
        return Ok(None);
    };
    let mut errors = Vec::new();
    if dynamic.ads_config.is_some() {
        errors.push(Rejected::new(
            "dynamic_resources.ads_config",
            "mesh envoy has no xDS gRPC client: give lds_config and cds_config as path_config_source files",
        ));
    }
    let mut open = |source: &Option<ConfigSource>, field: &str| {
        let source = source.as_ref()?;
        match file_of(source, field).and_then(|f| must_exist(&f, field).map(|()| f)) {
            Ok(f) => Some(f),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    let cds = open(&dynamic.cds_config, "dynamic_resources.cds_config");
    let lds = open(&dynamic.lds_config, "dynamic_resources.lds_config");
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(BootstrapFiles { cds, lds }))
}

impl FileSources {
    /// The sources the bootstrap names (`None` when it has no `dynamic_resources`).
    pub fn from_bootstrap(
        proxy: &Arc<Proxy>,
        bootstrap: &Bootstrap,
    ) -> Result<Option<FileSources>, Vec<Rejected>> {
        let Some(BootstrapFiles { cds, lds }) = check(bootstrap)? else {
            return Ok(None);
        };
        let stats = |prefix: &str| vec![SubscriptionStats::new(&proxy.stats, prefix)];
        Ok(Some(FileSources {
            proxy: proxy.clone(),
            cds: cds.map(|f| Watched::new(f, stats("cluster_manager.cds."))),
            lds: lds.map(|f| Watched::new(f, stats("listener_manager.lds."))),
            eds: BTreeMap::new(),
            rds: BTreeMap::new(),
            gathered: false,
        }))
    }

    /// Loads everything once, in Envoy's order (clusters, their endpoints, listeners, their
    /// routes).
    pub async fn initial_load(&mut self) {
        self.poll().await;
    }

    /// Watches until the proxy stops.
    pub fn spawn(mut self) {
        let stop = self.proxy.shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(POLL) => {}
                }
                self.poll().await;
            }
        });
    }

    async fn poll(&mut self) {
        let first = !self.gathered;
        self.gathered = true;
        if self.poll_cds().await || first {
            self.sync_eds_files();
        }
        poll_merged(
            &self.proxy,
            &mut self.eds,
            type_url::ENDPOINT,
            "eds",
            Resources::Endpoints,
        )
        .await;
        if self.poll_lds().await || first {
            self.sync_rds_files();
        }
        poll_merged(
            &self.proxy,
            &mut self.rds,
            type_url::ROUTE,
            "rds",
            Resources::Routes,
        )
        .await;
    }

    /// Whether CDS changed.
    async fn poll_cds(&mut self) -> bool {
        let Some(w) = self.cds.as_mut() else {
            return false;
        };
        let Some(update) = w.changed(type_url::CLUSTER) else {
            return false;
        };
        let proxy = self.proxy.clone();
        push(
            &proxy,
            w,
            update,
            |file| Resources::Clusters(file.resources.clone()),
            "cds",
        )
        .await
    }

    async fn poll_lds(&mut self) -> bool {
        let Some(w) = self.lds.as_mut() else {
            return false;
        };
        let Some(update) = w.changed(type_url::LISTENER) else {
            return false;
        };
        let proxy = self.proxy.clone();
        push(
            &proxy,
            w,
            update,
            |file| Resources::Listeners(file.resources.clone()),
            "lds",
        )
        .await
    }

    /// The EDS files the running clusters name (new ones are read on the next poll).
    fn sync_eds_files(&mut self) {
        let applied = self.proxy.applied();
        let mut wanted: BTreeMap<String, (FileSource, Vec<String>)> = BTreeMap::new();
        for c in applied.clusters.iter().filter(|c| is_file_eds(c)) {
            let Some(source) = eds_file(&c.config) else {
                continue;
            };
            wanted
                .entry(source.path.clone())
                .or_insert_with(|| (source, Vec::new()))
                .1
                .push(c.name.clone());
        }
        self.eds.retain(|path, _| wanted.contains_key(path));
        for (path, (source, clusters)) in wanted {
            let stats = clusters
                .iter()
                .map(|c| SubscriptionStats::for_cluster(&self.proxy.stats, c))
                .collect();
            self.eds
                .entry(path)
                .or_insert_with(|| Watched::new(source, stats));
        }
    }

    /// The RDS files the running listeners' connection managers name.
    fn sync_rds_files(&mut self) {
        let applied = self.proxy.applied();
        let mut wanted: BTreeMap<String, (FileSource, Vec<String>)> = BTreeMap::new();
        for slot in &applied.listeners {
            let l = slot.current();
            let chains = l
                .config
                .filter_chains
                .iter()
                .chain(&l.config.default_filter_chain);
            for filter in chains.flat_map(|c| &c.filters) {
                let NetworkFilterConfig::HttpConnectionManager(hcm) = &filter.typed_config else {
                    continue;
                };
                let Some(rds) = &hcm.rds else { continue };
                let Some(source) = rds
                    .config_source
                    .as_ref()
                    .and_then(|v| ConfigSource::from_value(v).ok())
                    .and_then(|s| s.file().ok())
                else {
                    continue;
                };
                wanted
                    .entry(source.path.clone())
                    .or_insert_with(|| (source, Vec::new()))
                    .1
                    .push(format!(
                        "http.{}.rds.{}.",
                        hcm.stat_prefix, rds.route_config_name
                    ));
            }
        }
        self.rds.retain(|path, _| wanted.contains_key(path));
        for (path, (source, prefixes)) in wanted {
            let stats = prefixes
                .iter()
                .map(|p| SubscriptionStats::new(&self.proxy.stats, p))
                .collect();
            self.rds
                .entry(path)
                .or_insert_with(|| Watched::new(source, stats));
        }
    }
}

/// Decodes and applies one LDS/CDS file; whether the proxy took it.
async fn push<T: DeserializeOwned + Clone>(
    proxy: &Arc<Proxy>,
    w: &mut Watched<T>,
    update: Result<DiscoveryFile<T>, String>,
    resources: impl Fn(&DiscoveryFile<T>) -> Resources,
    what: &str,
) -> bool {
    let file = match update {
        Ok(file) => file,
        Err(reason) => {
            w.rejected();
            rejected_log(proxy, what, &reason);
            return false;
        }
    };
    let ack = proxy
        .apply(DiscoveryResponse {
            version_info: file.version_info.clone(),
            nonce: String::new(),
            resources: resources(&file),
        })
        .await;
    match ack.error_detail {
        Some(reason) => {
            w.rejected();
            rejected_log(proxy, what, &format!("{}: {reason}", w.source.path));
            false
        }
        None => {
            plog!(
                proxy.log,
                Level::Info,
                Component::Upstream,
                "{what}: applied {} resource(s) from {} (version_info {:?})",
                file.resources.len(),
                w.source.path,
                file.version_info
            );
            w.accepted(file);
            true
        }
    }
}

fn rejected_log(proxy: &Proxy, what: &str, reason: &str) {
    plog!(
        proxy.log,
        Level::Warning,
        Component::Config,
        "{what}: Filesystem config update rejected: {reason}"
    );
}

fn is_file_eds(c: &Arc<super::cluster::Cluster>) -> bool {
    c.config.discovery_type == DiscoveryType::Eds && eds_file(&c.config).is_some()
}

/// An EDS cluster's file, when its `eds_config` is one.
fn eds_file(c: &Cluster) -> Option<FileSource> {
    let value = c.eds_cluster_config.as_ref()?.eds_config.as_ref()?;
    ConfigSource::from_value(value).ok()?.file().ok()
}

/// EDS (and RDS) files are one subscription each, but the proxy takes each type as one state of
/// the world: a changed file is pushed together with every other file's last good resources,
/// and only that file is marked rejected when the push is.
async fn poll_merged<T: DeserializeOwned + Clone>(
    proxy: &Arc<Proxy>,
    files: &mut BTreeMap<String, Watched<T>>,
    type_url: &str,
    kind: &str,
    wrap: fn(Vec<T>) -> Resources,
) {
    let paths: Vec<String> = files.keys().cloned().collect();
    for path in paths {
        let Some(w) = files.get_mut(&path) else {
            continue;
        };
        let Some(update) = w.changed(type_url) else {
            continue;
        };
        let candidate = match update {
            Ok(file) => file,
            Err(reason) => {
                w.rejected();
                rejected_log(proxy, kind, &reason);
                continue;
            }
        };
        let mut all: Vec<T> = files
            .iter()
            .filter(|(p, _)| **p != path)
            .filter_map(|(_, w)| w.last_good.as_ref())
            .flat_map(|f| f.resources.iter().cloned())
            .collect();
        all.extend(candidate.resources.iter().cloned());
        let ack = proxy
            .apply(DiscoveryResponse {
                version_info: candidate.version_info.clone(),
                nonce: String::new(),
                resources: wrap(all),
            })
            .await;
        let Some(w) = files.get_mut(&path) else {
            continue;
        };
        match ack.error_detail {
            Some(reason) => {
                w.rejected();
                rejected_log(proxy, kind, &format!("{path}: {reason}"));
            }
            None => w.accepted(candidate),
        }
    }
}
