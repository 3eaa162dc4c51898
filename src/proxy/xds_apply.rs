//! Applying a control-plane push (CDS, EDS, LDS, RDS; state of the world per type). Everything
//! is validated and built before the swap; a push with any bad resource is refused (NACK) and
//! the proxy keeps running what it had. Unchanged resources keep their runtime state (hosts,
//! pools, stats, sockets).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::plog;
use crate::xds::cluster::{Cluster as XdsCluster, DiscoveryType};
use crate::xds::endpoint::ClusterLoadAssignment;
use crate::xds::listener::Listener;
use crate::xds::route::RouteConfiguration;
use crate::xds::snapshot::{Ack, DiscoveryResponse, Resources};

use super::cluster::Cluster;
use super::http::route::RouteTable;
use super::listener::{BuildCtx, ListenerRt, ListenerSlot};
use super::log::{Component, Level};
use super::{Proxy, RdsRoute, Rejected};

impl Proxy {
    /// Applies one push and answers with an ACK (now running `version_info`) or a NACK (still
    /// running the previous version, with the reasons).
    pub async fn apply(self: &Arc<Self>, resp: DiscoveryResponse) -> Ack {
        let _serialised = self.apply_lock.lock().await;
        let type_url = resp.resources.type_url();
        let version = resp.version_info.clone();
        let result = match resp.resources {
            Resources::Clusters(c) => self.apply_clusters(c, &version).await,
            Resources::Endpoints(e) => self.apply_endpoints(e, &version),
            Resources::Listeners(l) => self.apply_listeners(l, &version).await,
            Resources::Routes(r) => self.apply_routes(r, &version),
            Resources::Secrets(s) => self.apply_secrets(s, &version).await,
        };
        match result {
            Ok(()) => {
                let mut applied = (*self.applied()).clone();
                applied.versions.insert(type_url, version.clone());
                self.store_applied(applied);
                Ack {
                    type_url,
                    version_info: version,
                    response_nonce: resp.nonce,
                    error_detail: None,
                }
            }
            Err(rejected) => {
                let detail = rejected
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                plog!(
                    self.log,
                    Level::Warning,
                    Component::Config,
                    "{} update rejected: {detail}",
                    crate::xds::snapshot::short_name(type_url)
                );
                Ack {
                    type_url,
                    version_info: self
                        .applied()
                        .versions
                        .get(type_url)
                        .cloned()
                        .unwrap_or_default(),
                    response_nonce: resp.nonce,
                    error_detail: Some(detail),
                }
            }
        }
    }

    async fn apply_clusters(
        self: &Arc<Self>,
        list: Vec<XdsCluster>,
        version: &str,
    ) -> Result<(), Vec<Rejected>> {
        let current = self.applied();
        let old: HashMap<&str, &Arc<Cluster>> = current
            .clusters
            .iter()
            .filter(|c| c.added_via_api)
            .map(|c| (c.name.as_str(), c))
            .collect();
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut dynamic = Vec::new();
        let mut fresh = Vec::new();
        for cfg in &list {
            if !seen.insert(cfg.name.clone()) {
                errors.push(Rejected::new(
                    &cfg.name,
                    "duplicate cluster name in one update",
                ));
                continue;
            }
            if current.cluster(&cfg.name).is_some_and(|c| !c.added_via_api) {
                errors.push(Rejected::new(
                    &cfg.name,
                    "a static cluster of this name exists",
                ));
                continue;
            }
            match old.get(cfg.name.as_str()) {
                Some(existing) if existing.config == *cfg => dynamic.push((*existing).clone()),
                _ => match Cluster::build(
                    cfg,
                    &cfg.name,
                    &self.stats,
                    self.log.clone(),
                    self.options.resolver.clone(),
                    true,
                    version,
                    &self.secrets,
                ) {
                    Ok(c) => {
                        fresh.push(c.clone());
                        dynamic.push(c);
                    }
                    Err(mut e) => errors.append(&mut e),
                },
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // A changed EDS cluster keeps serving its endpoints until the next EDS push.
        for c in &fresh {
            if c.config.discovery_type == DiscoveryType::Eds
                && let Some(cla) = current.endpoints.get(&eds_name(&c.config))
            {
                c.set_assignment(cla);
            }
            c.start().await;
            if old.contains_key(c.name.as_str()) {
                self.server_stats.cluster_modified.inc();
            } else {
                self.server_stats.cluster_added.inc();
            }
        }
        for (name, c) in &old {
            if !seen.contains(*name) {
                c.shutdown();
                self.server_stats.cluster_removed.inc();
            } else if !dynamic.iter().any(|d| Arc::ptr_eq(d, c)) {
                c.shutdown();
            }
        }
        let mut applied = (*current).clone();
        applied.clusters = current
            .clusters
            .iter()
            .filter(|c| !c.added_via_api)
            .cloned()
            .chain(dynamic)
            .collect();
        applied.reindex();
        self.server_stats
            .active_clusters
            .set(applied.clusters.len() as u64);
        self.store_applied(applied);
        Ok(())
    }

    fn apply_endpoints(
        &self,
        list: Vec<ClusterLoadAssignment>,
        _version: &str,
    ) -> Result<(), Vec<Rejected>> {
        let current = self.applied();
        let mut errors = Vec::new();
        for cla in &list {
            for (i, loc) in cla.endpoints.iter().enumerate() {
                for (j, lbe) in loc.lb_endpoints.iter().enumerate() {
                    let ok = lbe
                        .endpoint
                        .as_ref()
                        .is_some_and(|e| e.address.ip_socket_addr().is_some());
                    if !ok {
                        errors.push(Rejected::new(
                            format!("{}.endpoints[{i}].lb_endpoints[{j}]", cla.cluster_name),
                            "an endpoint needs an IP socket address",
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut endpoints = HashMap::new();
        for cla in list {
            for c in current
                .clusters
                .iter()
                .filter(|c| c.config.discovery_type == DiscoveryType::Eds)
            {
                if eds_name(&c.config) == cla.cluster_name {
                    c.set_assignment(&cla);
                }
            }
            endpoints.insert(cla.cluster_name.clone(), Arc::new(cla));
        }
        let mut applied = (*self.applied()).clone();
        applied.endpoints = endpoints;
        self.store_applied(applied);
        Ok(())
    }

    async fn apply_listeners(
        self: &Arc<Self>,
        list: Vec<Listener>,
        version: &str,
    ) -> Result<(), Vec<Rejected>> {
        let current = self.applied();
        let ctx = BuildCtx {
            store: &self.stats,
            log: &self.log,
            clusters: None,
            std: &self.options.std_streams,
            dynamic: true,
            version_info: version,
            bind_ip: self.options.bind_ip,
            secrets: &self.secrets,
            tracing: current
                .bootstrap
                .tracing
                .as_ref()
                .and_then(|t| t.http.as_ref()),
            node: current.bootstrap.node.as_ref(),
            direction: Default::default(),
        };
        let mut errors = Vec::new();
        let mut built: Vec<Arc<ListenerRt>> = Vec::new();
        for l in &list {
            let name = if l.name.is_empty() {
                l.address.display()
            } else {
                l.name.clone()
            };
            if built.iter().any(|b| b.name == name) {
                errors.push(Rejected::new(&name, format!("error adding listener named '{name}': listener with the same name already exists")));
                continue;
            }
            match ListenerRt::build(l, &name, &ctx) {
                Ok(rt) => built.push(rt),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let old: HashMap<String, Arc<ListenerSlot>> = current
            .listeners
            .iter()
            .filter(|s| s.current().added_via_api)
            .map(|s| (s.current().name.clone(), s.clone()))
            .collect();
        let mut slots = Vec::new();
        let mut to_bind = Vec::new();
        let mut warming = Vec::new();
        for rt in built {
            let unchanged = old
                .get(&rt.name)
                .is_some_and(|s| s.current().config == rt.config);
            if !unchanged && !rt.missing_secrets().is_empty() {
                // Warming until its SDS secrets arrive; the version in service (if any)
                // keeps serving meanwhile, as in Envoy.
                if let Some(slot) = old.get(&rt.name) {
                    slots.push(slot.clone());
                }
                warming.push(rt);
                continue;
            }
            match old.get(&rt.name) {
                Some(slot) if slot.current().config == rt.config => slots.push(slot.clone()),
                Some(slot)
                    if slot.current().address == rt.address
                        && slot.current().config.binds_to_port() == rt.config.binds_to_port() =>
                {
                    slot.swap(rt);
                    self.server_stats.listener_modified.inc();
                    slots.push(slot.clone());
                }
                _ => {
                    let slot = ListenerSlot::new(rt);
                    to_bind.push(slot.clone());
                    slots.push(slot);
                }
            }
        }
        // Listeners that went away, or moved address, stop accepting; their connections finish.
        let stopped: Vec<Arc<ListenerSlot>> = old
            .values()
            .filter(|s| !slots.iter().any(|k| Arc::ptr_eq(k, s)))
            .cloned()
            .collect();
        for s in &stopped {
            s.stop();
            self.server_stats.listener_removed.inc();
        }
        let mut bind_errors = Vec::new();
        for slot in &to_bind {
            match slot.bind_and_serve(self.clone()).await {
                Ok(_) => self.server_stats.listener_added.inc(),
                Err(e) => {
                    let l = slot.current();
                    bind_errors.push(Rejected::new(
                        &l.name,
                        format!("cannot bind '{}': {e}", l.address),
                    ));
                }
            }
        }
        if !bind_errors.is_empty() {
            for slot in &to_bind {
                slot.stop();
            }
            return Err(bind_errors);
        }
        let mut applied = (*self.applied()).clone();
        applied.listeners = current
            .listeners
            .iter()
            .filter(|s| !s.current().added_via_api)
            .cloned()
            .chain(slots)
            .collect();
        applied.warming_listeners = warming;
        self.server_stats
            .total_listeners_active
            .set(applied.listeners.len() as u64);
        self.count_warming(&applied);
        self.store_applied(applied);
        Ok(())
    }

    fn apply_routes(
        &self,
        list: Vec<RouteConfiguration>,
        version: &str,
    ) -> Result<(), Vec<Rejected>> {
        let current = self.applied();
        let mut errors = Vec::new();
        let mut routes = HashMap::new();
        for rc in list {
            if let Some(existing) = current.routes.get(&rc.name).filter(|r| r.config == rc) {
                routes.insert(rc.name.clone(), existing.clone());
                continue;
            }
            // Dynamic routes only check clusters when asked to (Envoy's rule for RDS).
            let known: std::collections::HashSet<String>;
            let check = if rc.validate_clusters == Some(true) {
                known = current.clusters.iter().map(|c| c.name.clone()).collect();
                Some(&known)
            } else {
                None
            };
            match RouteTable::build(&rc, &rc.name, check) {
                Ok(table) => {
                    routes.insert(
                        rc.name.clone(),
                        Arc::new(RdsRoute {
                            table: Arc::new(table),
                            config: rc,
                            version_info: version.to_owned(),
                            last_updated: SystemTime::now(),
                        }),
                    );
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut applied = (*self.applied()).clone();
        applied.routes = routes;
        self.store_applied(applied);
        Ok(())
    }
}

/// The name EDS assignments for a cluster carry.
pub fn eds_name(c: &XdsCluster) -> String {
    c.eds_cluster_config
        .as_ref()
        .map(|e| e.service_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| c.name.clone())
}
