//! Control-plane benchmark: how long from starting a sandbox until every proxy is SYNCED, how
//! long one VirtualService change takes to reach every proxy, and the process's RSS — for the
//! default scenario and for generated ones with 100 and 1000 Services.
//!
//! `cargo bench --bench sandbox` (add `-- 100` to run one size). Each scenario runs in its own
//! child process so RSS is that scenario's alone. Numbers compare within one run and one
//! machine; the targets (issue 4) are < 300 ms to SYNCED for the default scenario, < 1 s to push
//! 1000 Services, < 60 MB RSS for the default sandbox.
//!
//! The generated scenario is the default one plus, in `istioinaction` (sidecar injection on):
//! the catalog Deployment (2 replicas) and webapp, N Services selecting catalog, one Gateway
//! for `*.bench.io` and N VirtualServices (`svc-i.bench.io` → `svc-i`). So the gateway gets
//! N virtual hosts and N clusters, and every sidecar N clusters with 2 endpoints each.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use mesh::sandbox::ops::Document;
use mesh::sandbox::scenario::{self, DEFAULT};
use mesh::sandbox::state_dir::StateRoot;
use mesh::sandbox::{Sandbox, SandboxConfig};

fn generated(n: usize) -> String {
    let mut s = DEFAULT.to_owned();
    let catalog = std::fs::read_to_string(
        "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml",
    )
    .unwrap();
    let webapp =
        std::fs::read_to_string("scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml")
            .unwrap();
    for doc in catalog.split("\n---").chain(webapp.split("\n---")) {
        let doc = doc
            .trim()
            .replacen("metadata:\n", "metadata:\n  namespace: istioinaction\n", 1);
        let doc = doc.replace(
            "replicas: 1\n  selector:\n    matchLabels:\n      app: catalog",
            "replicas: 2\n  selector:\n    matchLabels:\n      app: catalog",
        );
        let _ = write!(s, "\n---\n{doc}\n");
    }
    let _ = write!(
        s,
        "\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: bench\n  namespace: istioinaction\nspec:\n  selector: {{istio: ingressgateway}}\n  servers:\n  - port: {{number: 80, name: http, protocol: HTTP}}\n    hosts: [\"*.bench.io\"]\n"
    );
    for i in 0..n {
        let _ = write!(
            s,
            "\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: istioinaction\nspec:\n  selector: {{app: catalog}}\n  ports:\n  - {{name: http, port: 80, targetPort: 3000}}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: svc-{i}\n  namespace: istioinaction\nspec:\n  hosts: [svc-{i}.bench.io]\n  gateways: [bench]\n  http:\n  - route:\n    - destination: {{host: svc-{i}}}\n"
        );
    }
    s
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs one scenario in this process and prints one result line.
fn child(n: Option<usize>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = n.map_or_else(|| DEFAULT.to_owned(), generated);
    let home = std::env::temp_dir().join(format!("mesh-bench-{}", std::process::id()));
    let label = n.map_or_else(|| "default".to_owned(), |n| format!("{n} services"));
    rt.block_on(async {
        let started = Instant::now();
        let parsed = scenario::parse("bench.yaml", &text).unwrap();
        let sandbox = Sandbox::start(SandboxConfig {
            name: "bench".into(),
            state_root: StateRoot(home.clone()),
            scenario: parsed,
            ephemeral_ports: true,
            resolver: Default::default(),
            fresh: true,
            workload_cert_ttl: mesh::ca::DEFAULT_WORKLOAD_TTL,
        })
        .await
        .unwrap();
        let synced = sandbox.wait_synced(Duration::from_secs(120)).await.map(|_| started.elapsed());
        let proxies = sandbox.pilot.connections.all().len();
        // One VirtualService change (or, for the default scenario, a new Gateway) until every
        // proxy ACKed it.
        let change = match n {
            Some(_) => "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: svc-0\n  namespace: istioinaction\nspec:\n  hosts: [svc-0.bench.io]\n  gateways: [bench]\n  http:\n  - timeout: 2s\n    route:\n    - destination: {host: svc-1}\n",
            None => "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: coolstore-gateway\n  namespace: istioinaction\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [webapp.istioinaction.io]\n",
        };
        let t = Instant::now();
        sandbox.apply(&[Document { source: "change.yaml".into(), text: change.into() }], None).await.unwrap();
        let pushed = sandbox.wait_synced(Duration::from_secs(120)).await.map(|_| t.elapsed());
        let rss = rss_mb();
        let ms = |d: Option<Duration>| d.map_or_else(|| "timeout".to_owned(), |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0));
        println!(
            "{label:<14} proxies {proxies:>2}   up→SYNCED {:>9}   one change→all ACKed {:>9}   RSS {rss:>6.1} MB",
            ms(synced),
            ms(pushed)
        );
        sandbox.stop().await;
    });
    let _ = std::fs::remove_dir_all(home);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(pos) = std::env::args().position(|a| a == "--child") {
        let n = std::env::args().nth(pos + 1).and_then(|s| s.parse().ok());
        child(n);
        return;
    }
    let sizes: Vec<Option<usize>> = if args.is_empty() {
        vec![None, Some(100), Some(1000)]
    } else {
        args.iter().map(|a| a.parse().ok()).collect()
    };
    let me = std::env::current_exe().unwrap();
    println!(
        "mesh sandbox benchmark ({} CPUs)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for n in sizes {
        let status = Command::new(&me)
            .arg("--child")
            .arg(n.map_or_else(|| "default".to_owned(), |n| n.to_string()))
            .status()
            .unwrap();
        assert!(status.success());
    }
}
