//! Turns xDS config into the proxy's runtime form, validating everything first and reporting
//! every problem with its field path (the proxy's NACK, or `mesh envoy`'s refusal to start).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::xds::Bootstrap;

use super::cluster::Cluster;
use super::listener::{BuildCtx, ListenerRt};
use super::log::Logger;
use super::stats::Store;
use super::tls::secrets::SecretManager;
use super::{Options, Rejected};

/// The runtime pieces of a static bootstrap, not yet bound.
#[derive(Debug)]
pub struct Built {
    pub clusters: Vec<Arc<Cluster>>,
    pub cluster_index: HashMap<String, usize>,
    pub listeners: Vec<Arc<ListenerRt>>,
}

pub fn build_static(
    bootstrap: &Bootstrap,
    store: &Store,
    log: &Arc<Logger>,
    options: &Options,
    secrets: &Arc<SecretManager>,
) -> Result<Built, Vec<Rejected>> {
    let mut errors = Vec::new();
    let empty = Default::default();
    let sr = bootstrap.static_resources.as_ref().unwrap_or(&empty);
    // Secrets first: listeners and clusters name them.
    if let Err(mut e) = secrets.set_static(&sr.secrets) {
        errors.append(&mut e);
    }
    let mut clusters = Vec::new();
    let mut cluster_index = HashMap::new();
    for (i, c) in sr.clusters.iter().enumerate() {
        let path = format!("static_resources.clusters[{i}]");
        if cluster_index.contains_key(&c.name) {
            errors.push(Rejected::new(
                format!("{path}.name"),
                format!("cluster manager: duplicate cluster '{}'", c.name),
            ));
            continue;
        }
        match Cluster::build(
            c,
            &path,
            store,
            log.clone(),
            options.resolver.clone(),
            false,
            "",
            secrets,
        ) {
            Ok(cluster) => {
                cluster_index.insert(c.name.clone(), clusters.len());
                clusters.push(cluster);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    let names: HashSet<String> = sr.clusters.iter().map(|c| c.name.clone()).collect();
    let mut listeners = Vec::new();
    let mut seen_names = HashSet::new();
    let mut seen_addrs = HashSet::new();
    for (i, l) in sr.listeners.iter().enumerate() {
        let path = format!("static_resources.listeners[{i}]");
        let name = if l.name.is_empty() {
            l.address.display()
        } else {
            l.name.clone()
        };
        if !seen_names.insert(name.clone()) {
            errors.push(Rejected::new(
                format!("{path}.name"),
                format!("error adding listener named '{name}': listener with the same name already exists"),
            ));
            continue;
        }
        if !seen_addrs.insert(l.address.display()) {
            errors.push(Rejected::new(
                format!("{path}.address"),
                format!(
                    "error adding listener '{}': multiple listeners bind the same address",
                    l.address.display()
                ),
            ));
            continue;
        }
        let ctx = BuildCtx {
            store,
            log,
            clusters: Some(&names),
            std: &options.std_streams,
            dynamic: false,
            version_info: "",
            bind_ip: options.bind_ip,
            secrets,
            tracing: bootstrap.tracing.as_ref().and_then(|t| t.http.as_ref()),
            node: bootstrap.node.as_ref(),
            direction: Default::default(),
        };
        match ListenerRt::build(l, &path, &ctx) {
            Ok(listener) => listeners.push(listener),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if let Some(admin) = &bootstrap.admin {
        for (i, a) in admin.access_log.iter().enumerate() {
            if let Err(e) = super::access_log::AccessLogger::build(
                a,
                &format!("admin.access_log[{i}]"),
                &options.std_streams,
            ) {
                errors.push(e);
            }
        }
        if let Some(addr) = &admin.address
            && addr.ip_socket_addr().is_none()
        {
            errors.push(Rejected::new(
                "admin.address.socket_address",
                format!("malformed IP address: {}", addr.display()),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Built {
            clusters,
            cluster_index,
            listeners,
        })
    } else {
        Err(errors)
    }
}
