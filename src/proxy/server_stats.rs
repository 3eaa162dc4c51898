//! `server.*`, `cluster_manager.*` and `listener_manager.*` stats, and the periodic flush that
//! ends histogram intervals and refreshes uptime and memory gauges.

use std::sync::Arc;
use std::time::Duration;

use super::Proxy;
use super::stats::{Counter, Gauge, Histogram, Store, Unit};

#[derive(Debug)]
pub struct ServerStats {
    pub live: Gauge,
    pub state: Gauge,
    pub uptime: Gauge,
    pub total_connections: Gauge,
    pub memory_allocated: Gauge,
    pub memory_heap_size: Gauge,
    pub memory_physical_size: Gauge,
    pub initialization_time_ms: Histogram,
    pub active_clusters: Gauge,
    pub cluster_added: Counter,
    pub cluster_modified: Counter,
    pub cluster_removed: Counter,
    pub total_listeners_active: Gauge,
    pub listener_added: Counter,
    pub listener_modified: Counter,
    pub listener_removed: Counter,
}

impl ServerStats {
    pub fn new(store: &Store, concurrency: usize) -> ServerStats {
        let s = store.scope("server");
        for c in [
            "debug_assertion_failures",
            "dropped_stat_flushes",
            "dynamic_unknown_fields",
            "envoy_bug_failures",
            "envoy_notifications",
            "main_thread.watchdog_mega_miss",
            "main_thread.watchdog_miss",
            "static_unknown_fields",
            "wip_protos",
            "worker_0.watchdog_mega_miss",
            "worker_0.watchdog_miss",
        ] {
            s.counter(c);
        }
        for g in [
            "compilation_settings.fips_mode",
            "days_until_first_cert_expiring",
            "hot_restart_epoch",
            "hot_restart_generation",
            "parent_connections",
            "seconds_until_first_ocsp_response_expiring",
            "stats_recent_lookups",
        ] {
            s.gauge(g);
        }
        s.gauge("concurrency").set(concurrency as u64);
        // server.version is the build's git sha as a number in Envoy; ours has none.
        s.gauge("version").set(0);
        s.gauge("hot_restart_generation").set(1);
        let cm = store.scope("cluster_manager");
        for c in [
            "cluster_modified",
            "cluster_removed",
            "cluster_updated",
            "cluster_updated_via_merge",
            "update_merge_cancelled",
            "update_out_of_merge_window",
        ] {
            cm.counter(c);
        }
        cm.gauge("warming_clusters");
        let lm = store.scope("listener_manager");
        for c in [
            "listener_create_failure",
            "listener_create_success",
            "listener_in_place_updated",
            "listener_modified",
            "listener_removed",
            "listener_stopped",
        ] {
            lm.counter(c);
        }
        for g in [
            "total_filter_chains_draining",
            "total_listeners_draining",
            "total_listeners_warming",
        ] {
            lm.gauge(g);
        }
        lm.gauge("workers_started").set(1);
        let rt = store.scope("runtime");
        for c in [
            "deprecated_feature_use",
            "load_error",
            "load_success",
            "override_dir_exists",
            "override_dir_not_exists",
        ] {
            rt.counter(c);
        }
        for g in [
            "admin_overrides_active",
            "deprecated_feature_seen_since_process_start",
            "num_keys",
            "num_layers",
        ] {
            rt.gauge(g);
        }
        ServerStats {
            live: s.gauge("live"),
            state: s.gauge("state"),
            uptime: s.gauge("uptime"),
            total_connections: s.gauge("total_connections"),
            memory_allocated: s.gauge("memory_allocated"),
            memory_heap_size: s.gauge("memory_heap_size"),
            memory_physical_size: s.gauge("memory_physical_size"),
            initialization_time_ms: s.histogram("initialization_time_ms", Unit::Milliseconds),
            active_clusters: cm.gauge("active_clusters"),
            cluster_added: cm.counter("cluster_added"),
            cluster_modified: cm.counter("cluster_modified"),
            cluster_removed: cm.counter("cluster_removed"),
            total_listeners_active: lm.gauge("total_listeners_active"),
            listener_added: lm.counter("listener_added"),
            listener_modified: lm.counter("listener_modified"),
            listener_removed: lm.counter("listener_removed"),
        }
    }

    /// Refreshes the gauges that change on their own (uptime, memory).
    pub fn refresh(&self, proxy: &Proxy) {
        self.uptime.set(proxy.started.elapsed().as_secs());
        if let Some(rss) = resident_bytes() {
            self.memory_allocated.set(rss);
            self.memory_heap_size.set(rss);
            self.memory_physical_size.set(rss);
        }
    }
}

/// Resident set size of this process, from /proc (Linux); `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Every `interval` (Envoy's `stats_flush_interval`, default 5 s): end the histogram interval
/// and refresh the self-updating gauges.
pub fn spawn_flush(proxy: Arc<Proxy>, interval: Option<Duration>) {
    let every = interval
        .filter(|d| *d >= Duration::from_millis(1))
        .unwrap_or(Duration::from_secs(5));
    proxy.server_stats.refresh(&proxy);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = proxy.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            proxy.stats.flush_interval();
            proxy.server_stats.refresh(&proxy);
        }
    });
}
