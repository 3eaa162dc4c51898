//! `istioctl manifest generate` for the parts mesh runs: an operator's spec → the Kubernetes
//! objects istioctl would apply (istiod's ConfigMap `istio` with the mesh config and its
//! Deployment's environment, and each enabled ingress/egress gateway's ServiceAccount,
//! Deployment and Service). Every object carries istioctl's ownership labels, which is how a
//! later install of the same operator knows what to prune.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::operator::Operator;

/// The label istioctl puts on what an IstioOperator installed.
pub const OWNER_LABEL: &str = "install.operator.istio.io/owning-resource";
pub const COMPONENT_LABEL: &str = "operator.istio.io/component";

const PROXY_IMAGE: &str = "docker.io/istio/proxyv2:1.26.0";
const PILOT_IMAGE: &str = "docker.io/istio/pilot:1.26.0";

/// What one install renders, in apply order.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub objects: Vec<Value>,
    /// The components it installs, for istioctl's progress lines.
    pub components: Vec<&'static str>,
}

fn labels(op: &Operator, component: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(OWNER_LABEL.into(), json!(op.name));
    m.insert(COMPONENT_LABEL.into(), json!(component));
    m.insert("istio.io/rev".into(), json!("default"));
    m
}

fn enabled(component: &Value) -> bool {
    component["enabled"].as_bool().unwrap_or(false)
}

/// Istio's mesh config defaults with the user's `meshConfig` over them.
pub fn mesh_config(op: &Operator) -> Value {
    let mut mesh = json!({
        "defaultConfig": {"discoveryAddress": "istiod.istio-system.svc:15012"},
        "defaultProviders": {"metrics": ["prometheus"]},
        "enablePrometheusMerge": true,
        "rootNamespace": "istio-system",
        "trustDomain": "cluster.local",
    });
    if let Some(user) = op.spec.get("meshConfig") {
        super::operator::merge(&mut mesh, user);
    }
    mesh
}

/// istiod's environment: `values.pilot.env`, `components.pilot.k8s.env`, and
/// `PILOT_TRACE_SAMPLING` from `values.pilot.traceSampling`.
fn pilot_env(op: &Operator) -> Vec<Value> {
    let mut env: Vec<Value> = Vec::new();
    let mut put = |name: &str, value: String| {
        env.retain(|e| e["name"] != name);
        env.push(json!({"name": name, "value": value}));
    };
    if let Some(s) = op.spec["values"]["pilot"]["traceSampling"].as_f64() {
        put("PILOT_TRACE_SAMPLING", format_number(s));
    }
    if let Some(m) = op.spec["values"]["pilot"]["env"].as_object() {
        for (k, v) in m {
            put(k, scalar_text(v));
        }
    }
    if let Some(list) = op.spec["components"]["pilot"]["k8s"]["env"].as_array() {
        for e in list {
            if let Some(name) = e["name"].as_str() {
                put(name, scalar_text(&e["value"]));
            }
        }
    }
    env
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.1}")
    } else {
        n.to_string()
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn istiod(op: &Operator, out: &mut Vec<Value>) {
    let l = labels(op, "Pilot");
    let mesh = serde_saphyr::to_string(&mesh_config(op)).unwrap_or_default();
    out.push(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "istiod", "namespace": "istio-system", "labels": l},
    }));
    out.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system", "labels": l},
        "data": {"mesh": mesh.trim_end(), "meshNetworks": "networks: {}"},
    }));
    let mut pod_labels = Map::new();
    pod_labels.insert("app".into(), json!("istiod"));
    pod_labels.insert("istio".into(), json!("pilot"));
    let mut dep_labels = l.clone();
    dep_labels.extend(pod_labels.clone());
    let mut container = json!({
        "name": "discovery",
        "image": PILOT_IMAGE,
        "ports": [{"containerPort": 8080}, {"containerPort": 15010}, {"containerPort": 15017}],
    });
    let env = pilot_env(op);
    if !env.is_empty() {
        container["env"] = Value::Array(env);
    }
    out.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "istiod", "namespace": "istio-system", "labels": dep_labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"serviceAccountName": "istiod", "containers": [container]},
            },
        },
    }));
    out.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istiod", "namespace": "istio-system", "labels": dep_labels},
        "spec": {
            "selector": pod_labels,
            "ports": [
                {"name": "grpc-xds", "port": 15010, "protocol": "TCP"},
                {"name": "https-dns", "port": 15012, "protocol": "TCP"},
                {"name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"},
                {"name": "http-monitoring", "port": 15014, "protocol": "TCP"},
            ],
        },
    }));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GatewayKind {
    Ingress,
    Egress,
}

fn default_ports(kind: GatewayKind) -> Value {
    match kind {
        GatewayKind::Ingress => json!([
            {"name": "status-port", "port": 15021, "targetPort": 15021},
            {"name": "http2", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443},
        ]),
        GatewayKind::Egress => json!([
            {"name": "http2", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443},
        ]),
    }
}

fn gateway(op: &Operator, gw: &Value, kind: GatewayKind, out: &mut Vec<Value>) {
    let Some(name) = gw["name"].as_str() else {
        return;
    };
    let ns = gw["namespace"].as_str().unwrap_or("istio-system");
    let (component, istio_label, service_type) = match kind {
        GatewayKind::Ingress => ("IngressGateways", "ingressgateway", "LoadBalancer"),
        GatewayKind::Egress => ("EgressGateways", "egressgateway", "ClusterIP"),
    };
    let mut pod_labels = Map::new();
    pod_labels.insert("app".into(), json!(name));
    pod_labels.insert("istio".into(), json!(istio_label));
    if let Some(extra) = gw["label"].as_object() {
        for (k, v) in extra {
            pod_labels.insert(k.clone(), json!(scalar_text(v)));
        }
    }
    let mut obj_labels = labels(op, component);
    obj_labels.extend(pod_labels.clone());
    let k8s = &gw["k8s"];
    let ports: Vec<Value> = k8s["service"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| default_ports(kind).as_array().cloned().unwrap_or_default())
        .into_iter()
        .map(|mut p| {
            if p.get("targetPort").is_none_or(Value::is_null) {
                p["targetPort"] = p["port"].clone();
            }
            if p.get("protocol").is_none_or(Value::is_null) {
                p["protocol"] = json!("TCP");
            }
            p
        })
        .collect();
    let mut container_ports: Vec<Value> = Vec::new();
    let mut seen = BTreeSet::new();
    for p in &ports {
        if let Some(tp) = p["targetPort"].as_u64()
            && seen.insert(tp)
        {
            container_ports.push(json!({"containerPort": tp, "protocol": "TCP"}));
        }
    }
    if seen.insert(15090) {
        container_ports
            .push(json!({"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}));
    }
    let mut container = json!({
        "name": "istio-proxy",
        "image": PROXY_IMAGE,
        "args": ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        "ports": container_ports,
    });
    if let Some(env) = k8s["env"].as_array() {
        container["env"] = Value::Array(env.clone());
    }
    let account = format!("{name}-service-account");
    out.push(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": account, "namespace": ns, "labels": obj_labels},
    }));
    let mut template_labels = pod_labels.clone();
    template_labels.insert("sidecar.istio.io/inject".into(), json!("false"));
    out.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": obj_labels},
        "spec": {
            "replicas": k8s["replicaCount"].as_u64().unwrap_or(1),
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {"serviceAccountName": account, "containers": [container]},
            },
        },
    }));
    out.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": obj_labels},
        "spec": {
            "type": k8s["service"]["type"].as_str().unwrap_or(service_type),
            "selector": pod_labels,
            "ports": ports,
        },
    }));
}

/// Everything an operator installs. `existing_namespaces` decides whether the istio
/// namespace must be created (an existing one is left as it is, labels and all).
pub fn render(op: &Operator, existing_namespaces: &BTreeSet<String>) -> Rendered {
    let mut r = Rendered::default();
    let components = &op.spec["components"];
    if enabled(&components["base"]) {
        r.components.push("Istio core");
        if !existing_namespaces.contains("istio-system") {
            r.objects.push(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "istio-system", "labels": labels(op, "Base")},
            }));
        }
    }
    if enabled(&components["pilot"]) {
        r.components.push("Istiod");
        istiod(op, &mut r.objects);
    }
    for (list, kind, what) in [
        ("ingressGateways", GatewayKind::Ingress, "Ingress gateways"),
        ("egressGateways", GatewayKind::Egress, "Egress gateways"),
    ] {
        let mut any = false;
        for gw in components[list].as_array().into_iter().flatten() {
            if enabled(gw) {
                gateway(op, gw, kind, &mut r.objects);
                any = true;
            }
        }
        if any {
            r.components.push(what);
        }
    }
    r
}

/// The IstioOperator object an install keeps (`kubectl get istiooperator -A`).
pub fn operator_object(op: &Operator) -> Value {
    json!({
        "apiVersion": "install.istio.io/v1alpha1",
        "kind": "IstioOperator",
        "metadata": {"name": op.name, "namespace": op.namespace},
        "spec": op.user_spec,
    })
}

#[cfg(test)]
mod tests {
    use super::super::operator::{InstallFile, resolve};
    use super::*;

    fn op(files: &[&str], set: &[&str]) -> Operator {
        let files: Vec<InstallFile> = files
            .iter()
            .map(|t| InstallFile {
                source: "f".into(),
                text: (*t).into(),
            })
            .collect();
        resolve(
            &files,
            &set.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn find<'a>(r: &'a Rendered, kind: &str, name: &str) -> Option<&'a Value> {
        r.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    #[test]
    fn the_user_gateway_renders_one_gateway_with_its_node_port() {
        let text = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: u, namespace: istioinaction}\nspec:\n  profile: empty\n  components:\n    ingressGateways:\n    - name: my-user-gateway\n      namespace: istioinaction\n      enabled: true\n      label: {istio: my-user-gateway}\n      k8s:\n        service:\n          ports:\n          - {name: tcp, port: 31400, targetPort: 31400, nodePort: 30007}\n";
        let r = render(&op(&[text], &[]), &BTreeSet::new());
        assert_eq!(r.components, vec!["Ingress gateways"]);
        assert_eq!(r.objects.len(), 3);
        let svc = find(&r, "Service", "my-user-gateway").unwrap();
        assert_eq!(svc["metadata"]["namespace"], "istioinaction");
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30007);
        assert_eq!(svc["spec"]["selector"]["istio"], "my-user-gateway");
        assert_eq!(svc["spec"]["selector"]["app"], "my-user-gateway");
        let dep = find(&r, "Deployment", "my-user-gateway").unwrap();
        assert_eq!(dep["metadata"]["labels"][OWNER_LABEL], "u");
        let ports = dep["spec"]["template"]["spec"]["containers"][0]["ports"]
            .as_array()
            .unwrap();
        assert_eq!(ports.len(), 2, "31400 and 15090");
    }

    #[test]
    fn pilot_env_and_mesh_config_reach_istiod() {
        let text = include_str!(
            "../../../scenarios/istio-in-action/ch4/control-plane-reduce-gw-config.yaml"
        );
        let r = render(
            &op(
                &[text],
                &[
                    "meshConfig.accessLogFile=/dev/stdout",
                    "values.pilot.traceSampling=100",
                ],
            ),
            &["istio-system".to_owned()].into(),
        );
        assert_eq!(r.components, vec!["Istio core", "Istiod"]);
        let dep = find(&r, "Deployment", "istiod").unwrap();
        let env = &dep["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([
                {"name": "PILOT_TRACE_SAMPLING", "value": "100.0"},
                {"name": "PILOT_FILTER_GATEWAY_CLUSTER_CONFIG", "value": "true"},
            ])
        );
        let cm = find(&r, "ConfigMap", "istio").unwrap();
        let mesh = cm["data"]["mesh"].as_str().unwrap();
        assert!(mesh.contains("accessLogFile: /dev/stdout"), "{mesh}");
        assert!(mesh.contains("ISTIO_META_DNS_CAPTURE"), "{mesh}");
        assert!(find(&r, "Namespace", "istio-system").is_none());
    }

    #[test]
    fn the_demo_profile_adds_the_egress_gateway_and_the_tcp_ports() {
        let r = render(&op(&[], &["profile=demo"]), &BTreeSet::new());
        assert_eq!(
            r.components,
            vec![
                "Istio core",
                "Istiod",
                "Ingress gateways",
                "Egress gateways"
            ]
        );
        let ingress = find(&r, "Service", "istio-ingressgateway").unwrap();
        assert_eq!(ingress["spec"]["ports"].as_array().unwrap().len(), 5);
        let egress = find(&r, "Service", "istio-egressgateway").unwrap();
        assert_eq!(egress["spec"]["type"], "ClusterIP");
        assert!(find(&r, "Namespace", "istio-system").is_some());
    }
}
