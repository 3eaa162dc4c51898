//! The kube-apiserver's table printers for built-in kinds
//! (`k8s.io/kubernetes/pkg/printers/internalversion/printers.go`, Kubernetes 1.32): their
//! columns and, per object, the cells they compute. Fields the API server always defaults
//! (a Service's `type`, a port's `protocol`, `spec.replicas`, a Secret's `type`, a
//! Namespace's phase) are defaulted here too, in case an object reaches us undefaulted.

use std::collections::BTreeSet;

use serde_json::Value;

use super::meta::{
    BadSelector, age, age_of, arr, format_label_selector, format_labels, int, len, obj, parse_time,
    present, rfc3339_utc, s, selector_string,
};
use super::{Column, Cx};

/// A built-in kind's printer: its columns (NAME first) and its cell function.
pub(super) struct Printer {
    pub columns: &'static [Column],
    pub cells: fn(&Value, &Cx) -> Vec<String>,
}

const fn col(name: &'static str) -> Column {
    Column { name, wide: false }
}

const fn wide(name: &'static str) -> Column {
    Column { name, wide: true }
}

/// The printer kube-apiserver registers for `group`/`kind`, if it has one.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    let p = |columns, cells| Some(Printer { columns, cells });
    match (group, kind) {
        ("", "Pod") => p(POD, pod),
        ("", "Service") => p(SERVICE, service),
        ("", "Endpoints") => p(ENDPOINTS, endpoints),
        ("", "Namespace") => p(NAMESPACE, namespace),
        ("", "Secret") => p(SECRET, secret),
        ("", "ConfigMap") => p(CONFIG_MAP, config_map),
        ("", "ServiceAccount") => p(SERVICE_ACCOUNT, service_account),
        ("apps", "Deployment") => p(DEPLOYMENT, deployment),
        ("apps", "ReplicaSet") => p(REPLICA_SET, replica_set),
        ("discovery.k8s.io", "EndpointSlice") => p(ENDPOINT_SLICE, endpoint_slice),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            p(ROLE_BINDING, role_binding)
        }
        // No printer registered: the API server's default table (`rest.NewDefaultTableConvertor`).
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => p(CREATED_AT, created_at),
        _ => None,
    }
}

const POD: &[Column] = &[
    col("Name"),
    col("Ready"),
    col("Status"),
    col("Restarts"),
    col("Age"),
    wide("IP"),
    wide("Node"),
    wide("Nominated Node"),
    wide("Readiness Gates"),
];

/// `printPod`: READY counts running ready containers (and started restartable init
/// containers), STATUS is the most telling reason, RESTARTS adds `(5m ago)`.
fn pod(pod: &Value, cx: &Cx) -> Vec<String> {
    let spec = &pod["spec"];
    let status = &pod["status"];
    let init_specs = arr(&spec["initContainers"]);
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(&c["name"]) == name && s(&c["restartPolicy"]) == "Always")
    };
    let total = arr(&spec["containers"]).len()
        + init_specs
            .iter()
            .filter(|c| s(&c["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts: i64 = 0;
    let mut restartable_restarts: i64 = 0;
    let mut last_restart: Option<i128> = None;
    let mut last_restartable_restart: Option<i128> = None;
    let later = |acc: &mut Option<i128>, c: &Value| {
        let terminated = &c["lastState"]["terminated"];
        if present(terminated) {
            let finished = parse_time(s(&terminated["finishedAt"]));
            if finished > *acc {
                *acc = finished;
            }
        }
    };

    let phase = s(&status["phase"]);
    let mut reason = match s(&status["reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    for cond in arr(&status["conditions"]) {
        if s(&cond["type"]) == "PodScheduled" && s(&cond["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    let mut initializing = false;
    for (i, c) in arr(&status["initContainerStatuses"]).iter().enumerate() {
        let count = int(&c["restartCount"]);
        restarts += count;
        later(&mut last_restart, c);
        let is_restartable = restartable(s(&c["name"]));
        if is_restartable {
            restartable_restarts += count;
            later(&mut last_restartable_restart, c);
        }
        let terminated = &c["state"]["terminated"];
        let waiting = &c["state"]["waiting"];
        if present(terminated) && int(&terminated["exitCode"]) == 0 {
            continue;
        }
        if is_restartable && c["started"].as_bool() == Some(true) {
            if c["ready"].as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        if present(terminated) {
            reason = match s(&terminated["reason"]) {
                "" if int(&terminated["signal"]) != 0 => {
                    format!("Init:Signal:{}", int(&terminated["signal"]))
                }
                "" => format!("Init:ExitCode:{}", int(&terminated["exitCode"])),
                r => format!("Init:{r}"),
            };
        } else if present(waiting)
            && !s(&waiting["reason"]).is_empty()
            && s(&waiting["reason"]) != "PodInitializing"
        {
            reason = format!("Init:{}", s(&waiting["reason"]));
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = arr(&status["conditions"])
        .iter()
        .any(|c| s(&c["type"]) == "Initialized" && s(&c["status"]) == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for c in arr(&status["containerStatuses"]).iter().rev() {
            restarts += int(&c["restartCount"]);
            later(&mut last_restart, c);
            let state = &c["state"];
            let (waiting, terminated) = (&state["waiting"], &state["terminated"]);
            if present(waiting) && !s(&waiting["reason"]).is_empty() {
                reason = s(&waiting["reason"]).to_string();
            } else if present(terminated) && !s(&terminated["reason"]).is_empty() {
                reason = s(&terminated["reason"]).to_string();
            } else if present(terminated) {
                reason = if int(&terminated["signal"]) != 0 {
                    format!("Signal:{}", int(&terminated["signal"]))
                } else {
                    format!("ExitCode:{}", int(&terminated["exitCode"]))
                };
            } else if c["ready"].as_bool() == Some(true) && present(&state["running"]) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = arr(&status["conditions"])
                .iter()
                .any(|c| s(&c["type"]) == "Ready" && s(&c["status"]) == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    let deleting = present(&pod["metadata"]["deletionTimestamp"]);
    if deleting && s(&status["reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", age_of(Some(t), cx.now)),
        _ => restarts.to_string(),
    };

    let ip = arr(&status["podIPs"])
        .first()
        .map(|p| s(&p["ip"]))
        .unwrap_or_else(|| s(&status["podIP"]));
    let none = |v: &str| if v.is_empty() { "<none>" } else { v }.to_string();
    let gates = arr(&spec["readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(&status["conditions"]);
        let true_count = gates
            .iter()
            .filter(|gate| {
                conditions
                    .iter()
                    .find(|c| s(&c["type"]) == s(&gate["conditionType"]))
                    .is_some_and(|c| s(&c["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        name(pod),
        format!("{ready}/{total}"),
        reason,
        restarts,
        age(pod, cx.now),
        none(ip),
        none(s(&spec["nodeName"])),
        none(s(&status["nominatedNodeName"])),
        readiness_gates,
    ]
}

const SERVICE: &[Column] = &[
    col("Name"),
    col("Type"),
    col("Cluster-IP"),
    col("External-IP"),
    col("Port(s)"),
    col("Age"),
    wide("Selector"),
];

/// `printService`.
fn service(svc: &Value, cx: &Cx) -> Vec<String> {
    let spec = &svc["spec"];
    let svc_type = match s(&spec["type"]) {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr(&spec["clusterIPs"])
        .first()
        .map(s)
        .or_else(|| Some(s(&spec["clusterIP"])).filter(|ip| !ip.is_empty()))
        .unwrap_or("<none>");
    let ports: Vec<String> = arr(&spec["ports"])
        .iter()
        .map(|p| {
            let protocol = match s(&p["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            match int(&p["nodePort"]) {
                n if n > 0 => format!("{}:{n}/{protocol}", int(&p["port"])),
                _ => format!("{}/{protocol}", int(&p["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(svc),
        svc_type.to_string(),
        cluster_ip.to_string(),
        external_ip(svc, svc_type),
        ports,
        age(svc, cx.now),
        format_labels(&spec["selector"]),
    ]
}

/// `getServiceExternalIP`.
fn external_ip(svc: &Value, svc_type: &str) -> String {
    let external: Vec<&str> = arr(&svc["spec"]["externalIPs"]).iter().map(s).collect();
    match svc_type {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let lb = load_balancer_status(&svc["status"]["loadBalancer"]);
            if !external.is_empty() {
                let mut all: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(','));
                }
                all.extend(external);
                all.join(",")
            } else if lb.is_empty() {
                "<pending>".to_string()
            } else {
                lb
            }
        }
        "ExternalName" => s(&svc["spec"]["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// `loadBalancerStatusStringer(status, wide=true)`: the ingress IPs (or hostnames), sorted
/// and unique. (Cut to 16 bytes only when not wide, which never happens: the API server
/// always builds its tables wide and kubectl drops the wide columns itself.)
fn load_balancer_status(status: &Value) -> String {
    let set: BTreeSet<&str> = arr(&status["ingress"])
        .iter()
        .filter_map(|i| match (s(&i["ip"]), s(&i["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

const ENDPOINTS: &[Column] = &[col("Name"), col("Endpoints"), col("Age")];

fn endpoints(ep: &Value, cx: &Cx) -> Vec<String> {
    vec![name(ep), format_endpoints(ep), age(ep, cx.now)]
}

/// `formatEndpoints(ep, nil)`: `ip:port` for every port of every subset (ports outer,
/// addresses inner), the first three, then `+ N more...`.
fn format_endpoints(ep: &Value) -> String {
    let subsets = arr(&ep["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    for ss in subsets {
        let addresses = arr(&ss["addresses"]);
        let ports = arr(&ss["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(s(&a["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(s(&a["ip"]), int(&port["port"])));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// `net.JoinHostPort`: IPv6 addresses in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

const ENDPOINT_SLICE: &[Column] = &[
    col("Name"),
    col("AddressType"),
    col("Ports"),
    col("Endpoints"),
    col("Age"),
];

/// `printEndpointSlice`.
fn endpoint_slice(slice: &Value, cx: &Cx) -> Vec<String> {
    let ports: Vec<String> = arr(&slice["ports"])
        .iter()
        .map(|p| {
            if present(&p["port"]) {
                int(&p["port"]).to_string()
            } else if present(&p["name"]) {
                s(&p["name"]).to_string()
            } else {
                "*".to_string()
            }
        })
        .collect();
    let addresses: Vec<String> = arr(&slice["endpoints"])
        .iter()
        .flat_map(|e| arr(&e["addresses"]).iter().map(|a| s(a).to_string()))
        .collect();
    vec![
        name(slice),
        s(&slice["addressType"]).to_string(),
        list_with_more(ports),
        list_with_more(addresses),
        age(slice, cx.now),
    ]
}

/// `listWithMoreString` for lists capped at three: `<unset>` when empty.
fn list_with_more(all: Vec<String>) -> String {
    const MAX: usize = 3;
    let count = all.len();
    let shown = &all[..count.min(MAX)];
    let joined = shown.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

const NAMESPACE: &[Column] = &[col("Name"), col("Status"), col("Age")];

fn namespace(ns: &Value, cx: &Cx) -> Vec<String> {
    let phase = match s(&ns["status"]["phase"]) {
        "" => "Active",
        p => p,
    };
    vec![name(ns), phase.to_string(), age(ns, cx.now)]
}

const SECRET: &[Column] = &[col("Name"), col("Type"), col("Data"), col("Age")];

/// `printSecret`: DATA counts the keys (a `stringData` key the API server would have merged
/// into `data` counts once).
fn secret(secret: &Value, cx: &Cx) -> Vec<String> {
    let secret_type = match s(&secret["type"]) {
        "" => "Opaque",
        t => t,
    };
    let keys: BTreeSet<&String> = obj(&secret["data"])
        .into_iter()
        .chain(obj(&secret["stringData"]))
        .flat_map(|m| m.keys())
        .collect();
    vec![
        name(secret),
        secret_type.to_string(),
        keys.len().to_string(),
        age(secret, cx.now),
    ]
}

const CONFIG_MAP: &[Column] = &[col("Name"), col("Data"), col("Age")];

fn config_map(cm: &Value, cx: &Cx) -> Vec<String> {
    let data = len(&cm["data"]) + len(&cm["binaryData"]);
    vec![name(cm), data.to_string(), age(cm, cx.now)]
}

const SERVICE_ACCOUNT: &[Column] = &[col("Name"), col("Secrets"), col("Age")];

fn service_account(sa: &Value, cx: &Cx) -> Vec<String> {
    vec![
        name(sa),
        arr(&sa["secrets"]).len().to_string(),
        age(sa, cx.now),
    ]
}

const DEPLOYMENT: &[Column] = &[
    col("Name"),
    col("Ready"),
    col("Up-to-date"),
    col("Available"),
    col("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

/// `printDeployment`: READY is `readyReplicas/spec.replicas`.
fn deployment(d: &Value, cx: &Cx) -> Vec<String> {
    let (spec, status) = (&d["spec"], &d["status"]);
    let (names, images) = container_cells(&spec["template"]["spec"]["containers"]);
    let selector = match selector_string(&spec["selector"]) {
        Ok(text) => text,
        Err(BadSelector) => "<invalid>".to_string(),
    };
    vec![
        name(d),
        format!("{}/{}", int(&status["readyReplicas"]), replicas(spec)),
        int(&status["updatedReplicas"]).to_string(),
        int(&status["availableReplicas"]).to_string(),
        age(d, cx.now),
        names,
        images,
        selector,
    ]
}

const REPLICA_SET: &[Column] = &[
    col("Name"),
    col("Desired"),
    col("Current"),
    col("Ready"),
    col("Age"),
    wide("Containers"),
    wide("Images"),
    wide("Selector"),
];

/// `printReplicaSet`.
fn replica_set(rs: &Value, cx: &Cx) -> Vec<String> {
    let (spec, status) = (&rs["spec"], &rs["status"]);
    let (names, images) = container_cells(&spec["template"]["spec"]["containers"]);
    vec![
        name(rs),
        replicas(spec).to_string(),
        int(&status["replicas"]).to_string(),
        int(&status["readyReplicas"]).to_string(),
        age(rs, cx.now),
        names,
        images,
        format_label_selector(&spec["selector"]),
    ]
}

/// `spec.replicas`, which the API server defaults to 1.
fn replicas(spec: &Value) -> i64 {
    if present(&spec["replicas"]) {
        int(&spec["replicas"])
    } else {
        1
    }
}

/// `layoutContainerCells`: container names and images, comma-joined.
fn container_cells(containers: &Value) -> (String, String) {
    let containers = arr(containers);
    let names: Vec<&str> = containers.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

const ROLE_BINDING: &[Column] = &[
    col("Name"),
    col("Role"),
    col("Age"),
    wide("Users"),
    wide("Groups"),
    wide("ServiceAccounts"),
];

/// `printRoleBinding` / `printClusterRoleBinding`: ROLE is `Kind/name`; wide adds the
/// subjects by kind (`rbac.SubjectsStrings`), `, `-joined.
fn role_binding(rb: &Value, cx: &Cx) -> Vec<String> {
    let role = format!(
        "{}/{}",
        s(&rb["roleRef"]["kind"]),
        s(&rb["roleRef"]["name"])
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for subject in arr(&rb["subjects"]) {
        let subject_name = s(&subject["name"]).to_string();
        match s(&subject["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{subject_name}", s(&subject["namespace"]))),
            "User" => users.push(subject_name),
            "Group" => groups.push(subject_name),
            _ => {}
        }
    }
    vec![
        name(rb),
        role,
        age(rb, cx.now),
        users.join(", "),
        groups.join(", "),
        sas.join(", "),
    ]
}

const CREATED_AT: &[Column] = &[col("Name"), col("Created At")];

/// The default table: NAME and the creation time in RFC 3339, UTC.
fn created_at(object: &Value, _cx: &Cx) -> Vec<String> {
    vec![
        name(object),
        rfc3339_utc(parse_time(s(&object["metadata"]["creationTimestamp"]))),
    ]
}

fn name(object: &Value) -> String {
    s(&object["metadata"]["name"]).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::output::kubectl::meta::parse_time;

    fn row(pod_json: Value) -> Vec<String> {
        let now = parse_time("2025-06-01T00:00:00Z").unwrap_or_default();
        pod(&pod_json, &Cx { now })[..5].to_vec()
    }

    #[test]
    fn native_sidecars_count_as_containers() {
        let p = json!({"metadata": {"name": "p", "creationTimestamp": "2025-05-31T23:00:00Z"},
            "spec": {"initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}],
                     "containers": [{"name": "app"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "istio-proxy", "started": true, "ready": true,
                    "restartCount": 2, "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-05-31T23:50:00Z"}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                    "state": {"running": {}}}]}});
        assert_eq!(row(p), ["p", "2/2", "Running", "2 (10m ago)", "60m"]);
    }

    #[test]
    fn completed_next_to_running_is_not_ready() {
        let p = json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": true, "state": {"running": {}}}]}});
        assert_eq!(row(p), ["p", "1/2", "NotReady", "0", "<unknown>"]);
    }

    #[test]
    fn killed_container_shows_its_signal() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Failed", "containerStatuses": [
                {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}});
        assert_eq!(row(p), ["p", "0/1", "Signal:9", "0", "<unknown>"]);
    }

    #[test]
    fn service_defaults_and_load_balancer_hostnames() {
        let svc = json!({"metadata": {"name": "s"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "externalIPs": ["1.2.3.4"]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "5.6.7.8"}]}}});
        let cells = service(&svc, &Cx { now: 0 });
        assert_eq!(
            cells[1..5],
            [
                "LoadBalancer",
                "<none>",
                "5.6.7.8,lb.example.com,1.2.3.4",
                "80/TCP"
            ]
        );
    }
}
